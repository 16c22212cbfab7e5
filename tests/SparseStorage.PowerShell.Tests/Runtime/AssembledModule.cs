using SparseStorage.Packager;

namespace SparseStorage.PowerShell.Tests.Runtime;

/// <summary>
/// The module as users install it: the packager's assemble step (the one build.ps1 runs into out/) laid out once per
/// test run from the cmdlet assembly this build produced, so the runtime tests never import a stale copy in out/.
/// </summary>
public static class AssembledModule
{
    private static readonly Lazy<string> Manifest = new(Assemble);

    /// <summary>The assembled SparseStorage.psd1, for Import-Module.</summary>
    public static string ManifestPath => Manifest.Value;

    private static string Assemble()
    {
        var output = Path.Combine(AppContext.BaseDirectory, "assembled");
        var warnings = new StringWriter();
        var module = ModuleAssembler.Assemble(CmdletAssembly.RepositoryRoot, CmdletAssembly.Configuration, output, warnings);
        warnings.ToString().Should().BeEmpty("every exported cmdlet has a help page");
        return Path.Combine(module.Folder, ModuleAssembler.ModuleName + ".psd1");
    }
}
