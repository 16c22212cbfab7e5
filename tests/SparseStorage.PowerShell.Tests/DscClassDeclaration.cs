using System.Text.RegularExpressions;

namespace SparseStorage.PowerShell.Tests;

/// <summary>
/// A [DscResource()] class read from script text: its properties with their [DscProperty(...)] arguments and type,
/// and the return types of its Get, Test and Set methods. PowerShell is not installable where these tests run.
/// </summary>
public sealed partial record DscClassDeclaration(string Name, IReadOnlyList<DscPropertyDeclaration> Properties, IReadOnlyDictionary<string, string> Methods)
{
    [GeneratedRegex(@"\[DscResource\(\)\]\s*class\s+(?<name>\w+)\s*\{")]
    private static partial Regex ClassPattern();

    [GeneratedRegex(@"\[DscProperty\((?<args>[^)]*)\)\]\s*\[(?<type>[\w.]+)\]\s*\$(?<name>\w+)")]
    private static partial Regex PropertyPattern();

    [GeneratedRegex(@"(?m)^\s*\[(?<type>\w+)\]\s+(?<name>Get|Test|Set)\(\)\s*\{")]
    private static partial Regex MethodPattern();

    public static IReadOnlyList<DscClassDeclaration> Parse(string script) =>
        ClassPattern().Matches(script).Select(m => FromBody(m.Groups["name"].Value, Body(script, m.Index + m.Length))).ToList();

    public IEnumerable<string> Keys => Properties.Where(p => p.Arguments == "Key").Select(p => p.Name);

    public IEnumerable<string> Configurable => Properties.Where(p => p.Arguments != "NotConfigurable").Select(p => p.Name);

    private static DscClassDeclaration FromBody(string name, string body) => new(
        name,
        PropertyPattern().Matches(body).Select(p => new DscPropertyDeclaration(p.Groups["name"].Value, p.Groups["type"].Value, p.Groups["args"].Value)).ToList(),
        MethodPattern().Matches(body).ToDictionary(m => m.Groups["name"].Value, m => m.Groups["type"].Value));

    /// <summary>The text up to the brace that closes the class (the script's own strings hold no braces).</summary>
    private static string Body(string script, int start)
    {
        var depth = 1;
        for (var i = start; i < script.Length; i++)
        {
            depth += script[i] switch { '{' => 1, '}' => -1, _ => 0 };
            if (depth == 0)
                return script[start..i];
        }
        throw new InvalidDataException("A [DscResource()] class is not closed.");
    }
}

/// <param name="Arguments">What [DscProperty(...)] says: "", "Key", "Mandatory" or "NotConfigurable".</param>
public sealed record DscPropertyDeclaration(string Name, string Type, string Arguments);
