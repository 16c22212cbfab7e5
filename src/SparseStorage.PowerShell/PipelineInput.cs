using System.Globalization;
using System.Management.Automation;

namespace SparseStorage.PowerShell;

/// <summary>
/// Objects a cmdlet takes from the pipeline as whole objects: the live .NET object, or its deserialized form from
/// Invoke-Command or Import-Clixml (a property bag whose type names start with "Deserialized."). Anything else is
/// refused, so that an object of another kind never names a resource by accident.
/// </summary>
internal static class PipelineInput
{
    /// <summary>Whether <paramref name="input"/> is a <typeparamref name="T"/> or the deserialized form of one.</summary>
    public static bool Is<T>(PSObject input) =>
        input.BaseObject is T || input.TypeNames.Contains("Deserialized." + typeof(T).FullName);

    /// <summary>Refuses anything that is not a <typeparamref name="T"/>, live or deserialized, naming what came instead.</summary>
    public static void Require<T>(PSObject input, string producedBy)
    {
        if (!Is<T>(input))
            throw new InvalidStorageArgumentException("InputObjectOfWrongType",
                $"-InputObject takes a {typeof(T).Name} from {producedBy} (or its deserialized form from a remote session), not a {input.TypeNames.FirstOrDefault() ?? "value"}.",
                input.BaseObject);
    }

    /// <summary>A property's value, converted; for live and deserialized objects alike.</summary>
    public static TValue Property<TValue>(PSObject input, string name) =>
        input.Properties[name]?.Value is { } value
            ? (TValue)Convert.ChangeType(value is PSObject wrapped ? wrapped.BaseObject : value, typeof(TValue), CultureInfo.InvariantCulture)
            : throw new InvalidStorageArgumentException("InputObjectIncomplete", $"The piped object has no {name} property.", input.BaseObject);
}
