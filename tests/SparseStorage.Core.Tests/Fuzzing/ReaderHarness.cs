using SparseStorage.Core.Encryption;
using SparseStorage.Core.Formats;
using SparseStorage.Core.Host;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Tests.Fuzzing;

/// <summary>
/// Feeds one file to every native reader: the pool listing's inspector (qcow2 header and guest reader, LUKS headers,
/// superblocks and the used space a resize plan reads from them), the container header read before wipe and unlock, the qcow2 snapshot table, and the span parsers on
/// the file's first bytes. A reader may refuse with <see cref="InvalidDataException"/>; any other exception escapes.
/// </summary>
public static class ReaderHarness
{
    private static readonly AttachmentState NoAttachments = new([], [], []);

    /// <summary>How many readers refused the input (0: every reader accepted it).</summary>
    public static int Run(string path, byte[] head)
    {
        var refusals = 0;
        refusals += Refused(() => new VolumeInspector(NoAttachments).Inspect(path, "fuzz"));
        refusals += Refused(() => ContainerHeader.Read(path));
        refusals += Refused(() => FileSystemSignature.Detect(head));
        refusals += Refused(() => FileSystemUsage.UsedBytes(head));
        if (LuksHeader.HasMagic(head))
            refusals += Refused(() => LuksHeader.Parse(head.AsSpan(0, Math.Min(head.Length, LuksHeader.ReadSize))));
        if (Qcow2Header.HasMagic(head))
            refusals += Refused(() => ReadSnapshots(path, head));
        return refusals;
    }

    private static void ReadSnapshots(string path, byte[] head)
    {
        var header = Qcow2Header.Parse(head.AsSpan(0, Math.Min(head.Length, 4096)));
        using var image = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        Qcow2SnapshotTable.Read(image, header);
    }

    private static int Refused(Action read)
    {
        try
        {
            read();
            return 0;
        }
        catch (InvalidDataException)
        {
            return 1;
        }
    }
}
