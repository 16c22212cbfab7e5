using System.Text.Json;

namespace SparseStorage.Packager;

/// <summary>The runtime assemblies of NuGet packages, found from a build's deps.json in the NuGet package folder.</summary>
public static class PackageAssemblies
{
    public static IReadOnlyList<string> Read(string depsJson, IReadOnlyCollection<string> packages)
    {
        if (!File.Exists(depsJson))
            throw new PackagerException($"'{depsJson}' is missing; build the solution first.");
        using var document = JsonDocument.Parse(File.ReadAllText(depsJson));
        var root = document.RootElement;
        var target = root.GetProperty("targets").EnumerateObject().First().Value;
        var found = new List<string>();
        foreach (var library in root.GetProperty("libraries").EnumerateObject())
        {
            var name = library.Name.Split('/')[0];
            if (!packages.Contains(name) || !library.Value.TryGetProperty("path", out var folder))
                continue;
            foreach (var asset in target.GetProperty(library.Name).GetProperty("runtime").EnumerateObject())
                found.Add(RequirePackageFile(Path.Combine(PackageRoot(), folder.GetString()!, asset.Name)));
        }
        var missing = packages.Where(p => !found.Any(f => Path.GetFileNameWithoutExtension(f) == p)).ToList();
        if (missing.Count > 0)
            throw new PackagerException($"'{depsJson}' lists no runtime assembly of {string.Join(", ", missing)}.");
        return found;
    }

    private static string PackageRoot() =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    private static string RequirePackageFile(string path) =>
        File.Exists(path) ? path : throw new PackagerException($"'{path}' is missing from the NuGet package folder; run 'dotnet restore'.");
}
