using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Management.Automation.Runspaces;

namespace SparseStorage.PowerShell.Tests.Runtime;

/// <summary>
/// The real PowerShell engine with the assembled module imported, its pool configuration and run-time state in a
/// temporary directory of its own (SPARSESTORAGE_CONFIG, SPARSESTORAGE_RUNTIME_DIR). Those are process-wide
/// variables, so every runtime test shares this one fixture and runs in the one collection that owns it.
/// </summary>
public sealed class PowerShellRuntime : IDisposable
{
    private static readonly string[] Variables = ["SPARSESTORAGE_CONFIG", "SPARSESTORAGE_RUNTIME_DIR"];
    private readonly Dictionary<string, string?> saved = Variables.ToDictionary(v => v, Environment.GetEnvironmentVariable);

    public PowerShellRuntime()
    {
        Root = Directory.CreateTempSubdirectory("sparsestorage-runtime-").FullName;
        Environment.SetEnvironmentVariable("SPARSESTORAGE_CONFIG", ConfigurationPath);
        Environment.SetEnvironmentVariable("SPARSESTORAGE_RUNTIME_DIR", Path.Combine(Root, "run"));
        Runspace = Open();
    }

    /// <summary>The temporary directory that holds the configuration, the run-time state and the tests' pools.</summary>
    public string Root { get; }

    public string ConfigurationPath => Path.Combine(Root, "pools.json");

    /// <summary>A runspace with the module imported, shared by the tests that need no host of their own.</summary>
    public Runspace Runspace { get; }

    /// <summary>A new runspace (CreateDefault2: the engine's own commands and nothing else) with the module imported.</summary>
    public Runspace Open(PSHost? host = null)
    {
        var state = InitialSessionState.CreateDefault2();
        var runspace = host is null ? RunspaceFactory.CreateRunspace(state) : RunspaceFactory.CreateRunspace(host, state);
        runspace.Open();
        var import = Run(runspace, "Import-Module -Name $Path -ErrorAction Stop -PassThru", new Hashtable { ["Path"] = AssembledModule.ManifestPath });
        import.Errors.Should().BeEmpty("the assembled module imports cleanly");
        return runspace;
    }

    /// <summary>Runs a command in the shared runspace; each variable is bound as a parameter of the same name.</summary>
    public Invocation Run(string script, IDictionary? parameters = null) => Run(Runspace, script, parameters);

    public static Invocation Run(Runspace runspace, string script, IDictionary? parameters = null)
    {
        using var shell = Prepare(runspace, script, parameters);
        return Invocation.Of(shell, () => shell.Invoke());
    }

    /// <summary>A PowerShell instance ready to run <paramref name="script"/> with <paramref name="parameters"/> bound to variables of their names, for tests that stop it or watch its streams.</summary>
    public static System.Management.Automation.PowerShell Prepare(Runspace runspace, string script, IDictionary? parameters = null)
    {
        var shell = System.Management.Automation.PowerShell.Create(runspace);
        if (parameters is null)
            return shell.AddScript(script);
        var names = parameters.Keys.Cast<string>().Select(name => "$" + name);
        return shell.AddScript($"param({string.Join(", ", names)}) {script}").AddParameters(parameters);
    }

    public void Dispose()
    {
        Runspace.Dispose();
        foreach (var (name, value) in saved)
            Environment.SetEnvironmentVariable(name, value);
        Directory.Delete(Root, recursive: true);
    }
}

[CollectionDefinition(Name)]
public sealed class PowerShellRuntimeCollection : ICollectionFixture<PowerShellRuntime>
{
    public const string Name = "PowerShell runtime";
}
