namespace SparseStorage.Core.Volumes;

/// <summary>
/// Names for work in progress: a hidden file beside the target, on the same filesystem so that the finished
/// file is renamed into place atomically and an interrupted run never leaves a half file under the final name.
/// </summary>
public static class SiblingFile
{
    public const string PartialMarker = ".partial-";

    public static string TemporaryFor(string target) =>
        System.IO.Path.Combine(System.IO.Path.GetDirectoryName(target)!,
            $".{System.IO.Path.GetFileName(target)}{PartialMarker}{Guid.NewGuid().ToString("N")[..8]}");

    /// <summary>Deletes a temporary file and, on failure paths, never throws over the error that matters.</summary>
    public static void Discard(string? temporary)
    {
        try
        {
            if (temporary is not null)
                File.Delete(temporary);
        }
        catch (IOException)
        {
        }
    }
}
