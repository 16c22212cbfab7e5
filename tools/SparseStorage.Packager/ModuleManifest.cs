using System.Text.RegularExpressions;

namespace SparseStorage.Packager;

/// <summary>
/// The few keys of a .psd1 manifest the packager needs, read as text: the manifest is a PowerShell data file and no
/// PowerShell runs here. Handles "Key = 'value'" and "Key = @( 'a' 'b' )" (one or many lines).
/// </summary>
public sealed partial class ModuleManifest
{
    private readonly string _text;

    public string Path { get; }
    public Version ModuleVersion { get; }

    private ModuleManifest(string path, string text)
    {
        Path = path;
        _text = text;
        var version = Values("ModuleVersion").FirstOrDefault()
            ?? throw new PackagerException($"{path}: no ModuleVersion = '<version>' entry.");
        ModuleVersion = Version.TryParse(version, out var parsed)
            ? parsed
            : throw new PackagerException($"{path}: ModuleVersion '{version}' is not a version (expected e.g. '1.2.3').");
    }

    public static ModuleManifest Load(string path) =>
        File.Exists(path)
            ? new ModuleManifest(path, File.ReadAllText(path))
            : throw new PackagerException($"The module manifest '{path}' does not exist.");

    [GeneratedRegex(@"'(?<v>[^']*)'|""(?<v>[^""]*)""")]
    private static partial Regex QuotedPattern();

    /// <summary>The quoted strings assigned to <paramref name="key"/>, or none when the key is absent.</summary>
    public IReadOnlyList<string> Values(string key)
    {
        var match = Regex.Match(_text,
            $@"(?im)^\s*{Regex.Escape(key)}\s*=\s*(?:@\((?<list>[^)]*)\)|(?<one>'[^']*'|""[^""]*""))");
        if (!match.Success)
            return [];
        var source = match.Groups["list"].Success ? match.Groups["list"].Value : match.Groups["one"].Value;
        return QuotedPattern().Matches(source).Select(m => m.Groups["v"].Value).ToList();
    }
}
