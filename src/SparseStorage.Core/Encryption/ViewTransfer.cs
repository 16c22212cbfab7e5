using SparseStorage.Core.Native;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Encryption;

/// <summary>
/// Plaintext in and out of a raw LUKS image through a view that exists only for the transfer: unlock, copy or compare
/// the given ranges, lock again (also on failure). Shared by Protect-Volume and Unprotect-Volume.
/// </summary>
internal sealed class ViewTransfer(StorageContext context, StepRunner steps, IProgress<OperationProgress>? progress)
{
    private readonly VolumeUnlocker unlocker = new(context);

    /// <summary>Writes the plain file's ranges into the encrypted image at the same plaintext offsets.</summary>
    public void Write(string encrypted, ContainerHeader? header, VolumeKey key, string plain, IReadOnlyList<SparseFile.Extent> ranges, string description) =>
        WithView(encrypted, header, key, readOnly: false, description, view =>
        {
            using var source = Libc.Open(plain, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
            using var target = PlaintextTransfer.OpenView(view, write: true);
            PlaintextTransfer.Copy(source, target, ranges, skipZeroChunks: false, Reporter("Encrypting", ranges), steps.Cancellation);
            RandomAccess.FlushToDisk(target);
        });

    /// <summary>Reads the encrypted image's ranges into the plain file; all-zero chunks stay holes.</summary>
    public void Read(string encrypted, ContainerHeader? header, IReadOnlyList<VolumeKey> keys, string plain, IReadOnlyList<SparseFile.Extent> ranges, string description) =>
        WithView(encrypted, header, keys, readOnly: true, description, view =>
        {
            using var source = PlaintextTransfer.OpenView(view, write: false);
            using var target = Libc.Open(plain, Libc.O_RDWR | Libc.O_CLOEXEC, 0);
            PlaintextTransfer.Copy(source, target, ranges, skipZeroChunks: true, Reporter("Decrypting", ranges), steps.Cancellation);
        });

    /// <summary>Reads both sides again and fails, naming the offset, at the first difference.</summary>
    public void Verify(string encrypted, ContainerHeader? header, VolumeKey key, string plain, IReadOnlyList<SparseFile.Extent> ranges, string description) =>
        WithView(encrypted, header, [key], readOnly: true, description, view =>
        {
            using var expected = Libc.Open(plain, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
            using var actual = PlaintextTransfer.OpenView(view, write: false);
            var difference = PlaintextTransfer.FirstDifference(expected, actual, ranges, Reporter("Verifying", ranges), steps.Cancellation);
            if (difference is not null)
                throw new StorageOperationException("VerificationFailed",
                    $"{encrypted} reads back differently from {plain} at plaintext offset {difference}; nothing was replaced.", encrypted);
        });

    private void WithView(string encrypted, ContainerHeader? header, VolumeKey key, bool readOnly, string description, Action<string> work) =>
        WithView(encrypted, header, [key], readOnly, description, work);

    private void WithView(string encrypted, ContainerHeader? header, IReadOnlyList<VolumeKey> keys, bool readOnly, string description, Action<string> work) =>
        steps.Do(description, () =>
        {
            var view = unlocker.Open(encrypted, header!, keys, new UnlockOptions(ReadOnly: readOnly), steps.Cancellation);
            try
            {
                work(view);
            }
            finally
            {
                unlocker.Close(encrypted, CancellationToken.None);
            }
        });

    private Action<long> Reporter(string activity, IReadOnlyList<SparseFile.Extent> ranges)
    {
        var total = ranges.Sum(r => r.Length);
        return done => progress?.Report(new OperationProgress(activity, $"{ByteSize.Format(done)} of {ByteSize.Format(total)}", done, total));
    }
}
