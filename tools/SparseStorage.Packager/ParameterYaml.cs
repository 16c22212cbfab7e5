namespace SparseStorage.Packager;

/// <summary>Reads the flat 'Key: value' yaml block platyPS writes under each parameter.</summary>
public static class ParameterYaml
{
    public static ParameterMetadata Read(string yaml, string fileName, string heading)
    {
        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in yaml.Split('\n'))
        {
            var colon = line.IndexOf(':');
            if (colon > 0)
                values[line[..colon].Trim()] = Unquote(line[(colon + 1)..].Trim());
        }

        string Value(string key, string? fallback = null) =>
            values.TryGetValue(key, out var value) && value.Length > 0
                ? value
                : fallback ?? throw PlatyPsPage.Fail(fileName, heading, $"the yaml block has no '{key}:' value");

        return new ParameterMetadata(
            List(Value("Parameter Sets", ParameterMetadata.AllSets)),
            Value("Type"),
            List(Value("Aliases", "")),
            IsTrue(Value("Required")),
            Value("Position").ToLowerInvariant(),
            Value("Default value", "None"),
            Value("Accept pipeline input", "False"),
            IsTrue(Value("Accept wildcard characters", "False")),
            List(Value("Accepted values", "")));
    }

    private static IReadOnlyList<string> List(string value) =>
        value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    // Hand-written pages sometimes say 'True (ByName)'; what counts is the leading word.
    private static bool IsTrue(string value) => value.StartsWith("true", StringComparison.OrdinalIgnoreCase);

    private static string Unquote(string value) =>
        value.Length >= 2 && (value[0] == '\'' || value[0] == '"') && value[^1] == value[0] ? value[1..^1] : value;
}
