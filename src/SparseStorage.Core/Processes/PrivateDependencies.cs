using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;

namespace SparseStorage.Core.Processes;

/// <summary>
/// Keeps the module's third-party assemblies (CliWrap) in a load context of its own. A binary module shares the
/// default load context with every other module of the PowerShell session: had another module loaded an older
/// CliWrap first, the default context would refuse ours ("manifest definition does not match"). The module ships
/// them in a <see cref="Folder"/> folder beside SparseStorage.Core.dll, where the default context does not look;
/// when it fails to find one (absent, or a different version already loaded), it asks here, and the copy is loaded
/// into the private context. Where the assembly is found normally (the test hosts, with CliWrap beside them), this
/// is never asked.
/// </summary>
internal static class PrivateDependencies
{
    public const string Folder = "dependencies";

    private static readonly Lazy<AssemblyLoadContext> Context = new(() => new AssemblyLoadContext("SparseStorage dependencies"));

    // A library's module initializer (CA2255) is what is wanted here: the resolver must be in place before any of
    // Core's code that names a CliWrap type is compiled, whichever entry point the host calls first.
#pragma warning disable CA2255
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Install()
    {
        if (AssemblyLoadContext.GetLoadContext(typeof(PrivateDependencies).Assembly) is { } own)
            own.Resolving += Resolve;
    }

    /// <summary>The copy the module ships of this assembly, or null for any other assembly.</summary>
    public static string? ShippedPath(AssemblyName name)
    {
        if (name.Name is null || string.IsNullOrEmpty(typeof(PrivateDependencies).Assembly.Location))
            return null;
        var path = Path.Combine(Path.GetDirectoryName(typeof(PrivateDependencies).Assembly.Location)!, Folder, name.Name + ".dll");
        return File.Exists(path) ? path : null;
    }

    private static Assembly? Resolve(AssemblyLoadContext requesting, AssemblyName name) =>
        ShippedPath(name) is { } path ? Context.Value.LoadFromAssemblyPath(path) : null;
}
