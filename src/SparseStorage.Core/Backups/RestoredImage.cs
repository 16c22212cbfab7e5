using Microsoft.Win32.SafeHandles;
using SparseStorage.Core.Native;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Backups;

/// <summary>
/// The last check of a restore, on the file as written and flushed: the recorded size, the recorded format (a "raw"
/// set whose data starts with a qcow2 header would otherwise become a qcow2 volume, with whatever backing file it
/// names), and every block read back from the disk to the hash the manifest gives.
/// </summary>
internal static class RestoredImage
{
    private const int POSIX_FADV_DONTNEED = 4;

    public static void RequireAsRecorded(RestorePlan plan, SafeFileHandle output, string path, CancellationToken cancellationToken)
    {
        var manifest = plan.Manifest;
        if (RandomAccess.GetLength(output) != manifest.SizeBytes)
            throw Damaged(plan, $"the restored image has {RandomAccess.GetLength(output)} bytes, the set records {manifest.SizeBytes}");
        var format = new VolumeInspector(new Host.AttachmentState([], [], [])).Inspect(path, null).Format;
        if (format != manifest.VolumeFormat)
            throw Damaged(plan, $"the restored data is a {format} image, the set records a {manifest.VolumeFormat} one");
        // Flushed, so the page cache can go: the blocks are read back from the disk, not from memory.
        Libc.posix_fadvise(output, 0, 0, POSIX_FADV_DONTNEED);
        var buffer = GC.AllocateUninitializedArray<byte>(manifest.BlockSize);
        foreach (var block in manifest.Blocks)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var data = buffer.AsSpan(0, block.Length);
            if (RandomAccess.Read(output, data, block.Index * manifest.BlockSize) != block.Length || BlockScanner.HashOf(data) != block.Hash)
                throw Damaged(plan, $"block {block.Index} does not read back as written");
        }
    }

    private static BackupDamagedException Damaged(RestorePlan plan, string what) =>
        new($"Restoring backup set {plan.SetDirectory} to {plan.TargetPath} failed its check: {what}. The target was left as it was.", plan.SetDirectory);
}
