using SparseStorage.Core;
using SparseStorage.Core.Copying;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Bench;

/// <summary>
/// One way of copying <see cref="Source"/> to <see cref="Destination"/> (which must not exist), timed
/// <see cref="Runs"/> times cold and warm; <see cref="Tag"/> is its short name in the summary. Ours run in-process
/// and fsync their output; a peer tool is followed by `sync DESTINATION` (fsync of that file) inside the timed
/// span, so every contender's time ends with the copy on disk.
/// </summary>
internal sealed record CopyContender(string Name, string Tag, string Source, string Destination, int Runs, Action Copy)
{
    /// <summary>Compare by extents instead of cmp (a 2 TiB image has too many holes for cmp to read).</summary>
    public bool CompareByExtents { get; init; }

    /// <summary>Copy-SparseVolume SOURCE -Destination PATH: resolve the volume, VolumeCopier.Plan, VolumeCopier.Copy.</summary>
    public static CopyContender VolumeCopier(StorageContext context, string name, string tag, string source, string destination, int runs) =>
        new(name, tag, source, destination, runs, () =>
        {
            var volume = new VolumeCatalog(context).Get(source);
            var copier = new Core.Copying.VolumeCopier(context);
            copier.Copy(copier.Plan(volume, new CopyVolumeRequest { Destination = destination }));
        });

    public static CopyContender SparseCopierZeroes(string source, string destination, int runs) =>
        new("SparseCopier.Copy, DetectZeroes", "SparseCopier DetectZeroes", source, destination, runs,
            () => SparseCopier.Copy(source, destination, new SparseCopyOptions { DetectZeroes = true }));

    /// <summary>A peer tool with its arguments (the destination last), then `sync DESTINATION`.</summary>
    public static CopyContender Tool(string name, string source, string destination, int runs, params string[] command) =>
        new(name, command[0], source, destination, runs, () =>
        {
            Shell.Run(command[0], [.. command[1..], source, destination]);
            Shell.Run("sync", destination);
        });
}
