using System.Diagnostics;
using SparseStorage.Core.Ceph;
using SparseStorage.Core.Host;
using SparseStorage.Core.Pools;
using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Tests.Support;

/// <summary>
/// A real Ceph cluster (tests/ceph/lab.sh: 1 mon, 1 mgr, 3 file-backed OSDs in their own network namespaces) for one
/// test class. It is brought up once and always taken down: by Dispose, also after a failed start, and at process
/// exit should Dispose never run. Where the Ceph packages are missing it starts nothing (the tests skip, or fail under
/// SPARSESTORAGE_INTEGRATION=require).
/// </summary>
public class CephLab : IDisposable
{
    private static readonly TimeSpan UpTimeout = TimeSpan.FromMinutes(6);
    private readonly ProcessRunner runner = new();
    private readonly LoopSnapshot loopsAtStart = new();
    private bool down;

    public CephLab() : this("ceph")
    {
    }

    /// <summary>A lab in /var/tmp/sstest-<paramref name="tag"/>-*, so a suite's labs are told apart by their directory.</summary>
    protected CephLab(string tag)
    {
        Directory = System.IO.Path.Combine("/var/tmp", $"sstest-{tag}-{Guid.NewGuid().ToString("N")[..8]}");
        if (CephFactAttribute.Reason() is not null)
            return;
        AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
        try
        {
            Lab("up", UpTimeout).EnsureSuccess();
            IsUp = true;
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Directory { get; }
    public bool IsUp { get; }
    public string ConfigPath => System.IO.Path.Combine(Directory, "ceph.conf");
    public string AdminKeyring => System.IO.Path.Combine(Directory, "client.admin.keyring");
    /// <summary>The limited client's keyring: 'profile rbd' on the pool rbd, all its namespaces.</summary>
    public string ClientKeyring => System.IO.Path.Combine(Directory, "client.sparse.keyring");
    public const string Pool = "rbd";
    public const string ClientUser = "sparse";

    /// <summary>The settings of a pool in a fresh RBD namespace of the pool rbd, so each test counts only its own images.</summary>
    public CephPoolSettings FreshNamespace()
    {
        var name = $"t{Guid.NewGuid().ToString("N")[..8]}";
        Rbd("namespace", "create", "--pool", Pool, "--namespace", name);
        return new CephPoolSettings(ConfigPath, Pool, ClientUser, ClientKeyring, name);
    }

    /// <summary>
    /// Takes down by hand what a test left mounted at <paramref name="path"/> (also when a test killed its daemon: the
    /// export's record still names a loop whose backing file reads "/").
    /// </summary>
    public static void TakeDownMount(StorageContext context, string path)
    {
        var attachment = context.ReadAttachments().Of(path);
        var runner = new ProcessRunner();
        foreach (var mountPoint in attachment.MountPoints)
            runner.Run(new ToolCommand("umount", "--lazy", mountPoint));
        if (attachment.LoopDevice is { } loop)
            runner.Run(new ToolCommand("losetup", "--detach", loop));
        if (attachment.FuseExport is { } export)
            context.FuseExporter().Stop(export, CancellationToken.None);
    }

    /// <summary>Runs rbd as client.admin (the test's own hand on the cluster, independent of the code under test).</summary>
    public string Rbd(params string[] arguments) =>
        runner.RunChecked(new ToolCommand("rbd", ["--conf", ConfigPath, "--id", "admin", "--keyring", AdminKeyring, .. arguments])).StandardOutput;

    /// <summary>Runs rados as client.admin in the pool (namespace) of <paramref name="settings"/>; the result, failures included.</summary>
    public ToolResult Rados(CephPoolSettings settings, params string[] arguments) =>
        runner.Run(new ToolCommand("rados", ["--conf", ConfigPath, "--id", "admin", "--keyring", AdminKeyring, "--pool", settings.Pool,
            .. settings.Namespace is null ? Array.Empty<string>() : ["--namespace", settings.Namespace], .. arguments]));

    /// <summary>Takes an image's mount lock as a host would that then died: the lock stays, no client watches the image.</summary>
    public void HoldMountLock(CephPoolSettings settings, string image, string holder) =>
        Rados(settings, "lock", "get", RbdMountLock.ObjectOf(image), RbdMountLock.LockName, "--lock-type", "exclusive",
            "--lock-cookie", RbdMountLock.CookieFor(holder), "--lock-description", RbdMountLock.DescriptionFor(holder)).EnsureSuccess();

    /// <summary>Breaks every lock on an image's mount-lock object, leaving the object in place as a dismount does.</summary>
    public void BreakMountLock(CephPoolSettings settings, string image)
    {
        var info = Rados(settings, "lock", "info", RbdMountLock.ObjectOf(image), RbdMountLock.LockName, "--format", "json");
        foreach (var held in RbdMountLock.ParseLocks(info.EnsureSuccess().StandardOutput))
            Rados(settings, "lock", "break", RbdMountLock.ObjectOf(image), RbdMountLock.LockName, held.Locker, "--lock-cookie", held.Cookie).EnsureSuccess();
    }

    /// <summary>Writes <paramref name="bytes"/> of non-zero data at the start of an image (rbd bench writes a pattern).</summary>
    public void Write(CephPoolSettings settings, string image, long bytes) =>
        Rbd("bench", "--io-type", "write", "--io-size", "4M", "--io-pattern", "seq", "--io-total", ToolCommand.Number(bytes),
            "--pool", settings.Pool, "--namespace", settings.Namespace!, "--image", image);

    /// <summary>The /24 the cluster's addresses are in (lab.env), e.g. "198.18.104".</summary>
    public string Subnet =>
        File.ReadLines(System.IO.Path.Combine(Directory, "lab.env")).First(l => l.StartsWith("subnet=", StringComparison.Ordinal))["subnet=".Length..];

    /// <summary>The namespace of the lab's bridge: lab.sh names it from the first 6 hex digits of sha256(directory).</summary>
    public string BridgeNamespace =>
        $"cephlab-{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(Directory)))[..6]}-admin";

    /// <summary>
    /// Makes a network namespace a client host of the cluster: a veth from it (<c>ceph0</c>, address SUBNET.<paramref name="host"/>)
    /// to the lab's bridge. The link goes with the namespace, or with the lab when it is taken down.
    /// </summary>
    public void Connect(string networkNamespace, int host)
    {
        var bridgePort = $"cc{Guid.NewGuid().ToString("N")[..8]}";
        runner.RunChecked(new ToolCommand("ip", "link", "add", bridgePort, "netns", BridgeNamespace, "type", "veth", "peer", "name", "ceph0", "netns", networkNamespace));
        runner.RunChecked(new ToolCommand("ip", "-n", BridgeNamespace, "link", "set", bridgePort, "master", "br0", "up"));
        runner.RunChecked(new ToolCommand("ip", "-n", networkNamespace, "addr", "add", $"{Subnet}.{host}/24", "dev", "ceph0"));
        runner.RunChecked(new ToolCommand("ip", "-n", networkNamespace, "link", "set", "ceph0", "up"));
        runner.RunChecked(new ToolCommand("ip", "-n", networkNamespace, "link", "set", "lo", "up"));
    }

    /// <summary>A context whose pool configuration and runtime directory are the test's own.</summary>
    public static StorageContext Context(TempDirectory root, IProcessRunner? processRunner = null, Planning.StepJournal? journal = null) =>
        new(new PoolService(new PoolConfiguration(root.Combine("pools.json"))), processRunner ?? new ProcessRunner(), new RuntimePaths(root.Combine("run")), isRoot: true)
        {
            Journal = journal,
            LockWait = TimeSpan.FromSeconds(5),
        };

    /// <summary>Keeps the image open (an RBD watcher) with <c>rbd watch</c> until disposed.</summary>
    public RbdWatch Watch(CephPoolSettings settings, string image) => RbdWatch.Start(this, settings, image);

    public void Dispose()
    {
        if (down)
            return;
        down = true;
        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        if (CephFactAttribute.Reason() is null)
            Lab("down", TimeSpan.FromMinutes(2)).EnsureSuccess();
        if (loopsAtStart.DeadLoopsSince() is { Count: > 0 } dead)
            throw new InvalidOperationException("Loop devices attached while the lab ran outlived their dead FUSE exports (backing file \"/\"): " +
                string.Join(", ", dead.Select(l => $"{l.Device} (diskseq {l.DiskSequence})")));
    }

    private void OnProcessExit(object? sender, EventArgs e)
    {
        try
        {
            Dispose();
        }
        catch (InvalidOperationException)
        {
            // The lab is down; at process exit there is no test left to fail.
        }
    }

    private ToolResult Lab(string verb, TimeSpan timeout) =>
        runner.Run(new ToolCommand("bash", LabScript, verb, Directory) { Timeout = timeout });

    /// <summary>tests/ceph/lab.sh of the checkout the tests were built from.</summary>
    public static string LabScript
    {
        get
        {
            for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            {
                var script = System.IO.Path.Combine(directory.FullName, "tests", "ceph", "lab.sh");
                if (File.Exists(script))
                    return script;
            }
            throw new FileNotFoundException("tests/ceph/lab.sh was not found above " + AppContext.BaseDirectory);
        }
    }
}

/// <summary>
/// A test against the Ceph lab: it needs root, FUSE, qemu's rbd driver and the Ceph packages. It skips with the
/// reason where they are missing, unless SPARSESTORAGE_INTEGRATION=require, where it runs and fails.
/// </summary>
public sealed class CephFactAttribute : FactAttribute
{
    private static readonly string[] Tools = ["ceph", "rbd", "ceph-mon", "ceph-mgr", "ceph-osd", "ceph-authtool", "monmaptool", "qemu-storage-daemon", "jq", "uuidgen", "mkfs.ext4"];

    public CephFactAttribute() => Skip = Prerequisites.Required ? null : Reason();

    /// <summary>Why the lab cannot run here, or null.</summary>
    public static string? Reason()
    {
        if (Prerequisites.SkipReason(Tools) is { } missing)
            return missing;
        if (!File.Exists("/dev/fuse"))
            return "needs FUSE (/dev/fuse) for qemu-storage-daemon's exports";
        return Host.StorageHostProbe.HasQemuRbdDriver() ? null : "needs qemu's rbd driver (Debian package qemu-block-extra)";
    }
}
