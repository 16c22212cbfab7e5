using System.Text;
using SparseStorage.Core.Native;
using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Tests.Support;

/// <summary>
/// Network namespaces made for one test or benchmark: a supervisor and storage nodes. One node is joined to the
/// supervisor by a plain veth pair; several are joined through a bridge in the supervisor's namespace. Names carry a
/// random prefix, no real interface of the machine is ever involved, and Dispose kills every process living in the
/// namespaces (by pid, nothing else) and deletes them, also after a failure.
/// </summary>
public sealed class AoeLab : IDisposable
{
    private readonly ProcessRunner runner = new();
    private readonly string prefix = $"sstest-{Guid.NewGuid().ToString("N")[..6]}";
    private readonly List<string> created = [];

    public AoeLab(int nodes = 1, int mtu = 1500)
    {
        Nodes = nodes;
        try
        {
            Build(mtu);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public int Nodes { get; }
    public string Supervisor => $"{prefix}-sup";
    /// <summary>The supervisor's interface toward the nodes: the veth end, or the bridge.</summary>
    public string SupervisorInterface => Nodes == 1 ? "sup0" : "br0";
    public string Node(int node) => $"{prefix}-n{node}";
    public string NodeInterface(int node) => $"aoe{node}";
    public IEnumerable<string> Namespaces => created;

    public T InSupervisor<T>(Func<T> work) => NetworkNamespace.Run(Supervisor, work);
    public T InNode<T>(int node, Func<T> work) => NetworkNamespace.Run(Node(node), work);

    /// <summary>Starts vblade by hand in a node (`ip netns exec NODE vblade ARGS`, as an operator would) and returns its first line of output.</summary>
    public string StartVbladeByHand(int node, params string[] arguments)
    {
        var start = new System.Diagnostics.ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "netns", "exec", Node(node), "vblade" }.Concat(arguments))
            start.ArgumentList.Add(argument);
        using var process = System.Diagnostics.Process.Start(start)!;
        // vblade prints "pid N: eS.L, … sectors" once its socket is bound; from then on it answers.
        return process.StandardOutput.ReadLine() ?? process.StandardError.ReadToEnd();
    }

    /// <summary>Live processes (zombies excluded) whose network namespace is one of this lab's, as "pid: command line".</summary>
    public List<string> ProcessesInside()
    {
        var namespaces = created.Where(n => File.Exists(Path.Combine(NetworkNamespace.Directory, n)))
            .Select(n => NetworkNamespace.Run(n, NetworkNamespace.Current)).ToHashSet();
        var found = new List<string>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid) || NetworkNamespace.OfProcess(pid) is not { } net || !namespaces.Contains(net))
                continue;
            var line = TryRead(Path.Combine(directory, "cmdline"));
            if (line.Length > 0)
                found.Add($"{pid}: {line}");
        }
        return found;
    }

    /// <summary>What is still there: lab namespaces and processes in them. Empty after Dispose.</summary>
    public List<string> LeftBehind() =>
        ProcessesInside().Concat(Directory.Exists(NetworkNamespace.Directory)
            ? Directory.GetFiles(NetworkNamespace.Directory, prefix + "*").Select(f => $"namespace {Path.GetFileName(f)}") : []).ToList();

    public void Dispose()
    {
        foreach (var process in ProcessesInside())
            Kill(int.Parse(process[..process.IndexOf(':')]));
        foreach (var name in created.AsEnumerable().Reverse())
            runner.Run(new ToolCommand("ip", "netns", "delete", name));
    }

    private void Build(int mtu)
    {
        AddNamespace(Supervisor);
        if (Nodes > 1)
            Ip(Supervisor, "link", "add", "br0", "mtu", Mtu(mtu), "type", "bridge");
        for (var node = 1; node <= Nodes; node++)
        {
            AddNamespace(Node(node));
            var local = Nodes == 1 ? "sup0" : $"port{node}";
            Ip(Supervisor, "link", "add", local, "mtu", Mtu(mtu), "type", "veth", "peer", "name", NodeInterface(node), "mtu", Mtu(mtu), "netns", Node(node));
            if (Nodes > 1)
                Ip(Supervisor, "link", "set", local, "master", "br0");
            Ip(Supervisor, "link", "set", local, "up");
            Ip(Node(node), "link", "set", NodeInterface(node), "up");
        }
        if (Nodes > 1)
            Ip(Supervisor, "link", "set", "br0", "up");
    }

    private static void Kill(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            process.Kill();
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Gone already.
        }
    }

    private void AddNamespace(string name)
    {
        runner.RunChecked(new ToolCommand("ip", "netns", "add", name));
        created.Add(name);
    }

    private void Ip(string name, params string[] arguments) => runner.RunChecked(new ToolCommand("ip", ["-n", name, .. arguments]));

    private static string Mtu(int mtu) => ToolCommand.Number(mtu);

    private static string TryRead(string path)
    {
        try
        {
            return Encoding.UTF8.GetString(File.ReadAllBytes(path)).Replace('\0', ' ').Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }
}
