using System.Text.RegularExpressions;
using SparseStorage.Core.Host;

namespace SparseStorage.Core.Volumes;

/// <summary>
/// Names for work in progress: a hidden file beside the target, on the same filesystem so that the finished
/// file is renamed into place atomically and an interrupted run never leaves a half file under the final name.
/// The name says whose it is — <c>.sparsestorage-partial-&lt;pid&gt;-&lt;start time&gt;-&lt;random&gt;-&lt;target name&gt;</c> —
/// so that a later call can prove its owner died and remove it (<see cref="Leftovers.LeftoverSweeper"/>).
/// </summary>
public static partial class SiblingFile
{
    public const string PartialMarker = ".sparsestorage-partial-";

    [GeneratedRegex(@"^\.sparsestorage-partial-([0-9]{1,10})-([0-9]{1,20})-[0-9a-f]{8}-(.+)$")]
    private static partial Regex PartialName();

    public static string TemporaryFor(string target) =>
        TemporaryIn(System.IO.Path.GetDirectoryName(target)!, System.IO.Path.GetFileName(target));

    /// <summary>A work name in <paramref name="directory"/> for something that will be named <paramref name="finalName"/>.</summary>
    public static string TemporaryIn(string directory, string finalName) =>
        System.IO.Path.Combine(directory, $"{PartialMarker}{ProcessIdentity.Current}-{Guid.NewGuid().ToString("N")[..8]}-{finalName}");

    /// <summary>
    /// A step's text as a plan shows it: the work file's name is chosen by the run (its process and a random part), so a
    /// plan names it by what it is, <c>.sparsestorage-partial-&lt;process, start time, random&gt;-&lt;target name&gt;</c>.
    /// </summary>
    public static string AsPlanned(string text, string temporary)
    {
        var match = PartialName().Match(System.IO.Path.GetFileName(temporary));
        return match.Success
            ? text.Replace(temporary, System.IO.Path.Combine(System.IO.Path.GetDirectoryName(temporary)!,
                $"{PartialMarker}{Planning.OperationPlan.Measured("process, start time, random")}-{match.Groups[3].Value}"))
            : text;
    }

    /// <summary>The process that made a work file or directory of this module, from its name; null for any other name.</summary>
    public static ProcessIdentity? OwnerOf(string name)
    {
        var match = PartialName().Match(name);
        return match.Success && ProcessIdentity.TryParse(match.Groups[1].Value, match.Groups[2].Value, out var owner) ? owner : null;
    }

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
