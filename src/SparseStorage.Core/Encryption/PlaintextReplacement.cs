using SparseStorage.Core.Native;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Encryption;

/// <summary>
/// Puts a finished, verified image in place of the old one: flushed first, same permissions, one rename. With
/// <paramref name="wipeOld"/> the old image is overwritten through a descriptor held across the rename, so its
/// plaintext blocks are zeroed before the filesystem frees them (best effort on copy-on-write filesystems and SSDs).
/// </summary>
internal static class PlaintextReplacement
{
    public static void Replace(string temporary, string target, bool wipeOld, StepRunner steps, IProgress<OperationProgress>? progress) =>
        steps.Do($"flush {temporary} and rename it to {target}{(wipeOld ? ", then overwrite the old image's data" : "")}", () =>
        {
            using (var finished = Libc.Open(temporary, Libc.O_RDONLY | Libc.O_CLOEXEC, 0))
                RandomAccess.FlushToDisk(finished);
            File.SetUnixFileMode(temporary, File.GetUnixFileMode(target));
            using var old = wipeOld ? VolumeFile.OpenWrite(target) : null;
            File.Move(temporary, target, overwrite: true);
            if (old is not null)
                VolumeRemover.Wipe(old.Handle, Path.GetFileName(target) + " (old image)", progress, steps.Cancellation);
        });
}
