using System.Collections;
using System.Globalization;

namespace SparseStorage.Core.Configuration;

/// <summary>
/// The properties of a DSC resource instance as a dictionary (a PowerShell hashtable arrives as an IDictionary),
/// read case-insensitively, with empty strings meaning "not given".
/// </summary>
public sealed class ResourceProperties
{
    private readonly Dictionary<string, object?> values = new(StringComparer.OrdinalIgnoreCase);

    public ResourceProperties(IDictionary properties)
    {
        ArgumentNullException.ThrowIfNull(properties);
        foreach (DictionaryEntry entry in properties)
            values[Convert.ToString(entry.Key, CultureInfo.InvariantCulture) ?? ""] = entry.Value;
    }

    /// <summary>The value as text, or null when absent, null or blank.</summary>
    public string? Text(string key) =>
        values.TryGetValue(key, out var value) && Convert.ToString(value, CultureInfo.InvariantCulture) is { } text && !string.IsNullOrWhiteSpace(text)
            ? text.Trim()
            : null;

    public string RequiredText(string key, string resource) =>
        Text(key) ?? throw new InvalidStorageArgumentException("DesiredStatePropertyMissing", $"{resource}: the property {key} is required.", key);

    public bool Flag(string key) =>
        values.TryGetValue(key, out var value) && value switch
        {
            null => false,
            bool flag => flag,
            string text => bool.TryParse(text, out var parsed) ? parsed : throw Invalid(key, text, "True or False"),
            _ => Convert.ToBoolean(value, CultureInfo.InvariantCulture),
        };

    public TEnum? Choice<TEnum>(string key, params TEnum[] allowed) where TEnum : struct, Enum
    {
        var text = Text(key);
        if (text is null)
            return null;
        return Enum.TryParse<TEnum>(text, ignoreCase: true, out var parsed) && allowed.Contains(parsed)
            ? parsed
            : throw Invalid(key, text, string.Join(", ", allowed));
    }

    public ByteSize? Size(string key)
    {
        if (!values.TryGetValue(key, out var value) || value is null || value is string blank && string.IsNullOrWhiteSpace(blank))
            return null;
        return ByteSize.From(value).RequirePositive(key);
    }

    private static InvalidStorageArgumentException Invalid(string key, string text, string expected) =>
        new("DesiredStatePropertyInvalid", $"The property {key} is '{text}'; expected one of: {expected}.", key);
}
