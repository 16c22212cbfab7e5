using System.Text.RegularExpressions;

namespace SparseStorage.Core.Pools;

/// <summary>Rules for pool and volume names: letters, digits, '.', '_' and '-', starting with a letter or digit.</summary>
public static partial class Names
{
    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
    private static partial Regex Valid();

    public static string RequireValid(string name, string what)
    {
        if (string.IsNullOrWhiteSpace(name) || !Valid().IsMatch(name) || name.Contains(".."))
            throw new InvalidStorageArgumentException($"Invalid{what}Name",
                $"'{name}' is not a valid {what.ToLowerInvariant()} name: use 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit (no '/' or '..').",
                name);
        return name;
    }
}

/// <summary>A PowerShell-style wildcard (*, ?, [abc]) matched case-insensitively, without a PowerShell reference.</summary>
public sealed class NamePattern
{
    private readonly Regex regex;

    public NamePattern(string pattern)
    {
        Text = pattern;
        var body = Regex.Escape(pattern).Replace(@"\*", ".*").Replace(@"\?", ".").Replace(@"\[", "[");
        regex = new Regex("^" + body + "$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
    }

    public string Text { get; }
    public bool HasWildcards => Text.IndexOfAny(['*', '?', '[']) >= 0;
    public bool IsMatch(string name) => regex.IsMatch(name);
}
