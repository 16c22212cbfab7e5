using System.Security.Cryptography;
using System.Text;
using SparseStorage.Core.Native;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Backups;

/// <summary>Names the reference clone a backup set left behind, with the inode and ctime it had, so that a replaced or written reference is never trusted.</summary>
public sealed record ChangeReferenceStamp(string File, long Inode, long ChangedNanoseconds);

/// <summary>
/// Reference clones for change tracking. Where the volume's filesystem shares blocks (FICLONE on xfs or btrfs), a
/// backup reads a point-in-time clone of the image instead of the live image, and keeps that clone after the set
/// is complete. The next backup into the same destination compares the block maps of a fresh clone and the kept
/// one (<see cref="UnchangedBlocks"/>) and reads only the blocks that moved. A clone costs only the space of the
/// blocks changed since it was taken. They live in the pool's hidden folder
/// <c>.backup-references/&lt;volume file name&gt;/&lt;destination key&gt;-&lt;set name&gt;.ref</c>, one per destination.
/// </summary>
public static class ChangeReferences
{
    public const string FolderName = ".backup-references";
    private const string Extension = ".ref";

    public static string FolderOf(string volumePath) => VolumeSideFolder.Of(volumePath, FolderName);

    /// <summary>A short key for the destination folder a chain lives in, so chains in different destinations keep their own reference.</summary>
    public static string ChainKey(string backupVolumeFolder) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(Path.GetFullPath(backupVolumeFolder))))[..16].ToLowerInvariant();

    /// <summary>Clones the image into a new reference, read-only; null where the filesystem cannot share blocks (or the clone fails), so the caller reads the image itself.</summary>
    public static string? TryTake(string volumePath, string chainKey, string setName)
    {
        var folder = Directory.CreateDirectory(FolderOf(volumePath)).FullName;
        var path = Path.Combine(folder, $"{chainKey}-{setName}{Extension}");
        bool cloned;
        using (var source = Libc.Open(volumePath, Libc.O_RDONLY | Libc.O_CLOEXEC, 0))
        using (var clone = Libc.Open(path, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_EXCL | Libc.O_CLOEXEC, 0b100_000_000))
            cloned = Libc.ioctl(clone, Libc.FICLONE, source) == 0;
        if (cloned)
            return path;
        Discard(path);
        VolumeSideFolder.DeleteIfEmpty(folder);
        return null;
    }

    public static ChangeReferenceStamp Stamp(string referencePath)
    {
        var status = Libc.Stat(referencePath);
        return new ChangeReferenceStamp(Path.GetFileName(referencePath), status.Inode, status.ChangedNanoseconds);
    }

    /// <summary>The reference a set left, when it is still the very file it was (same inode, never changed since); null otherwise.</summary>
    public static string? Find(string volumePath, ChangeReferenceStamp? stamp)
    {
        if (stamp is null || Path.GetFileName(stamp.File) != stamp.File)
            return null;
        var path = Path.Combine(FolderOf(volumePath), stamp.File);
        if (!File.Exists(path))
            return null;
        var status = Libc.Stat(path);
        return status.Inode == stamp.Inode && status.ChangedNanoseconds == stamp.ChangedNanoseconds ? path : null;
    }

    /// <summary>After a set is complete: its reference replaces every older one of the same destination.</summary>
    public static void KeepOnly(string volumePath, string chainKey, string kept)
    {
        foreach (var other in Directory.EnumerateFiles(FolderOf(volumePath), $"{chainKey}-*{Extension}"))
            if (other != kept)
                File.Delete(other);
    }

    /// <summary>Deletes the reference a removed set left, if any.</summary>
    public static void Forget(string volumePath, ChangeReferenceStamp? stamp)
    {
        if (stamp is not null && Path.GetFileName(stamp.File) == stamp.File)
            Discard(Path.Combine(FolderOf(volumePath), stamp.File));
    }

    /// <summary>
    /// Deletes every reference of a volume — when the volume is removed, or encrypted (the clones hold its
    /// plaintext). With <paramref name="wipe"/> their blocks are overwritten first.
    /// </summary>
    public static void RemoveAll(string volumePath, bool wipe, IProgress<OperationProgress>? progress, CancellationToken cancellationToken)
    {
        var folder = FolderOf(volumePath);
        if (!Directory.Exists(folder))
            return;
        foreach (var reference in Directory.EnumerateFiles(folder))
        {
            if (wipe)
                VolumeRemover.Wipe(reference, progress, cancellationToken);
            File.Delete(reference);
        }
        VolumeSideFolder.DeleteIfEmpty(folder);
    }

    public static void Discard(string? path)
    {
        if (path is not null && File.Exists(path))
            File.Delete(path);
    }
}
