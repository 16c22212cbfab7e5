namespace SparseStorage.Packager;

/// <summary>Where an assembled module landed.</summary>
public sealed record AssembledModule(string Name, string Folder, Version Version, int FileCount);

/// <summary>
/// Lays out out/SparseStorage/&lt;version&gt;/ the way Import-Module expects a versioned module folder: the manifest,
/// the files it names, the two assemblies, and en-US help; and beside it out/SparseStorageDsc/&lt;version&gt;/, the
/// DSC resources' script module, which requires SparseStorage at the same version.
/// </summary>
public static class ModuleAssembler
{
    public const string ModuleName = "SparseStorage";
    public const string DscModuleName = "SparseStorageDsc";
    public const string CmdletAssembly = "SparseStorage.PowerShell";
    public const string TargetFramework = "net8.0";
    public const string HelpFileName = CmdletAssembly + ".dll-Help.xml";

    private static readonly string[] Assemblies = ["SparseStorage.Core", CmdletAssembly];

    // System.Management.Automation.dll is deliberately absent: PowerShellStandard.Library is a compile-time
    // reference and pwsh supplies the real one; a copy in the module folder could be loaded in its place.
    private static readonly string[] OptionalCompanions = [".pdb", ".deps.json"];

    /// <summary>
    /// The third-party assemblies, which the cmdlet project's build puts there: not beside SparseStorage.Core.dll, so
    /// that only Core's own resolver finds them and loads them into the module's private load context
    /// (SparseStorage.Core.Processes.PrivateDependencies).
    /// </summary>
    public const string DependencyFolder = "dependencies";

    private static readonly string[] ManifestFileKeys = ["RootModule", "NestedModules", "FormatsToProcess", "TypesToProcess"];

    /// <param name="warnings">Receives one line per exported cmdlet that has no help page.</param>
    /// <returns>SparseStorage, then SparseStorageDsc.</returns>
    public static IReadOnlyList<AssembledModule> Assemble(string root, string configuration, string outDirectory, TextWriter warnings)
    {
        if (configuration is not ("Debug" or "Release"))
            throw new PackagerException($"Configuration '{configuration}' is neither Debug nor Release.");
        if (!Directory.Exists(root))
            throw new PackagerException($"The repository root '{root}' does not exist.");

        var manifest = ModuleManifest.Load(Path.Combine(root, ModuleName + ".psd1"));
        var files = CollectFiles(root, configuration, manifest);
        var dscSource = RequireDirectory(Path.Combine(root, "module", DscModuleName), "DSC resource module");
        var dscManifest = ModuleManifest.Load(Path.Combine(dscSource, DscModuleName + ".psd1"));
        RequireSameVersion(manifest, dscManifest);
        // Parse the help before touching the output, so a bad page leaves the previous package in place.
        var docs = Path.Combine(root, "docs", "en-US");
        var pages = MamlWriter.CmdletPageFiles(RequireDirectory(docs, "help pages")).Select(PlatyPsPage.Load).ToList();
        if (pages.Count == 0)
            throw new PackagerException($"No cmdlet pages (<Verb-Noun>.md) in '{docs}'.");
        WarnAboutMissingPages(manifest, pages, warnings);

        var folder = CopyInto(outDirectory, ModuleName, manifest, files);
        MamlWriter.Write(pages, Path.Combine(folder, "en-US", HelpFileName));
        CheckManifestReferences(manifest, folder);

        var dscFiles = Directory.EnumerateFiles(dscSource, "*.ps*1").Order(StringComparer.Ordinal)
            .Select(f => (f, Path.GetFileName(f))).ToList();
        var dscFolder = CopyInto(outDirectory, DscModuleName, dscManifest, dscFiles);
        CheckManifestReferences(dscManifest, dscFolder);

        return [Describe(ModuleName, folder, manifest), Describe(DscModuleName, dscFolder, dscManifest)];
    }

    /// <summary>Replaces out/&lt;name&gt;/&lt;version&gt;/ with the files; returns the folder.</summary>
    private static string CopyInto(string outDirectory, string name, ModuleManifest manifest, IEnumerable<(string Source, string Target)> files)
    {
        var folder = Path.Combine(Path.GetFullPath(outDirectory), name, manifest.ModuleVersion.ToString());
        if (Directory.Exists(folder))
            Directory.Delete(folder, recursive: true);
        Directory.CreateDirectory(folder);
        foreach (var (source, target) in files)
        {
            var destination = Path.Combine(folder, target);
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            File.Copy(source, destination);
        }
        return folder;
    }

    private static AssembledModule Describe(string name, string folder, ModuleManifest manifest) =>
        new(name, folder, manifest.ModuleVersion, Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Count());

    /// <summary>
    /// The DSC module ships with SparseStorage and requires exactly that version: a newer SparseStorage installed
    /// beside it must not be loaded under resources written for another.
    /// </summary>
    private static void RequireSameVersion(ModuleManifest manifest, ModuleManifest dscManifest)
    {
        if (dscManifest.ModuleVersion != manifest.ModuleVersion)
            throw new PackagerException(
                $"{dscManifest.Path}: ModuleVersion {dscManifest.ModuleVersion} is not {ModuleName}'s {manifest.ModuleVersion}.");
        if (!dscManifest.Values("ModuleName").SequenceEqual([ModuleName])
            || !dscManifest.Values("RequiredVersion").SequenceEqual([manifest.ModuleVersion.ToString()]))
            throw new PackagerException(
                $"{dscManifest.Path}: RequiredModules must be @{{ ModuleName = '{ModuleName}'; RequiredVersion = '{manifest.ModuleVersion}' }}.");
    }

    /// <summary>(source path, path inside the version folder) for everything but the generated help.</summary>
    private static List<(string Source, string Target)> CollectFiles(string root, string configuration, ModuleManifest manifest)
    {
        var files = new List<(string, string)> { (manifest.Path, Path.GetFileName(manifest.Path)) };

        var module = RequireDirectory(Path.Combine(root, "module"), "module sources");
        files.AddRange(Directory.EnumerateFiles(module, "*.ps1xml").Order(StringComparer.Ordinal)
            .Select(f => (f, Path.GetFileName(f))));
        var about = Path.Combine(module, "en-US");
        if (Directory.Exists(about))
            files.AddRange(Directory.EnumerateFiles(about, "about_*.help.txt").Order(StringComparer.Ordinal)
                .Select(f => (f, Path.Combine("en-US", Path.GetFileName(f)))));

        var bin = Path.Combine(root, "src", CmdletAssembly, "bin", configuration, TargetFramework);
        RequireDirectory(bin, $"{configuration} build output (run 'dotnet build -c {configuration}' first)");
        foreach (var assembly in Assemblies)
        {
            files.Add((RequireFile(Path.Combine(bin, assembly + ".dll")), assembly + ".dll"));
            files.AddRange(OptionalCompanions.Select(ext => Path.Combine(bin, assembly + ext))
                .Where(File.Exists)
                .Select(f => (f, Path.GetFileName(f))));
        }
        var dependencies = Path.Combine(bin, DependencyFolder);
        if (Directory.Exists(dependencies))
            files.AddRange(Directory.EnumerateFiles(dependencies, "*.dll").Order(StringComparer.Ordinal)
                .Select(f => (f, Path.Combine(DependencyFolder, Path.GetFileName(f)))));
        return files;
    }

    private static void CheckManifestReferences(ModuleManifest manifest, string folder)
    {
        foreach (var key in ManifestFileKeys)
            foreach (var name in manifest.Values(key).Where(n => !File.Exists(Path.Combine(folder, n))))
                throw new PackagerException(
                    $"{manifest.Path}: {key} names '{name}', which is not in the assembled module '{folder}'.");
    }

    private static void WarnAboutMissingPages(ModuleManifest manifest, List<PlatyPsPage> pages, TextWriter warnings)
    {
        var documented = pages.Select(p => p.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var cmdlet in manifest.Values("CmdletsToExport").Where(c => !documented.Contains(c)))
            warnings.WriteLine($"warning: {cmdlet} is exported but has no help page (docs/en-US/{cmdlet}.md).");
    }

    private static string RequireFile(string path) =>
        File.Exists(path) ? path : throw new PackagerException($"Missing input file '{path}'.");

    private static string RequireDirectory(string path, string what) =>
        Directory.Exists(path) ? path : throw new PackagerException($"Missing {what}: folder '{path}' does not exist.");
}
