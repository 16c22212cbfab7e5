using SparseStorage.Core.Devices;
using SparseStorage.Core.Encryption;
using SparseStorage.Core.Formats;
using SparseStorage.Core.Host;
using Microsoft.Win32.SafeHandles;
using SparseStorage.Core.Native;

namespace SparseStorage.Core.Volumes;

/// <summary>
/// Builds a <see cref="SparseVolume"/> from an image file by reading its headers natively: one stat and one
/// read of the first 68 KiB per volume, no process.
/// </summary>
public sealed class VolumeInspector(AttachmentState attachments)
{
    /// <summary>File endings a pool listing treats as volumes; the format itself is read from the header.</summary>
    public static readonly IReadOnlyList<string> Extensions = [".img", ".raw", ".qcow2"];

    public static string NameOf(string path)
    {
        var file = System.IO.Path.GetFileName(path);
        var extension = System.IO.Path.GetExtension(file);
        return Extensions.Contains(extension, StringComparer.OrdinalIgnoreCase) ? file[..^extension.Length] : file;
    }

    private const int HeadLength = 4096;
    private const int BtrfsRegion = 0x10000;
    private readonly byte[] head = new byte[HeadLength];
    private readonly byte[] probe = new byte[FileSystemSignature.ProbeLength];

    /// <summary>
    /// Describes one image. Reads 4 KiB (every header and superblock but btrfs's lies there) and 4 KiB more at
    /// 64 KiB only when nothing was recognised. Opened with open(2), not FileStream: .NET's emulated sharing
    /// locks would hide a volume that another operation holds open. Not thread-safe: buffers are reused.
    /// </summary>
    public SparseVolume Inspect(string path, string? pool)
    {
        var status = Libc.Stat(path);
        using var image = Libc.Open(path, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        var length = RandomAccess.Read(image, head, 0);
        var start = head.AsSpan(0, length);
        var attachment = attachments.Of(path);
        var volume = Qcow2Header.HasMagic(start) ? DescribeQcow2(image, start)
            : LuksHeader.HasMagic(start) ? DescribeLuks(image, status.Size)
            : new Description(VolumeFormat.Raw, status.Size, DetectFileSystem((offset, buffer) => RandomAccess.Read(image, buffer, offset) >= 0, status.Size));
        var plaintext = volume.Encryption == "None" ? null : attachment.PlaintextPath;
        if (plaintext is not null)
            volume = volume with { FileSystem = DetectPlaintextFileSystem(plaintext, volume.Size) };
        return new SparseVolume
        {
            Name = NameOf(path),
            Path = path,
            Pool = pool,
            Format = volume.Format,
            SizeBytes = volume.Size,
            AllocatedBytes = status.AllocatedBytes,
            FileSystem = volume.FileSystem.Type,
            FileSystemSizeBytes = volume.FileSystem.SizeBytes,
            Label = volume.FileSystem.Label,
            Encryption = volume.Encryption,
            KeySlotCount = volume.KeySlotCount,
            IsUnlocked = plaintext is not null,
            BackingFile = volume.BackingFile,
            SnapshotCount = volume.Format == VolumeFormat.Qcow2 ? volume.SnapshotCount : Snapshots.RawSnapshotStore.Count(path),
            LoopDevice = attachment.LoopDevice,
            MountPoint = attachment.MountPoints.FirstOrDefault(),
            IsAttached = attachment.IsAttached,
            IsMounted = attachment.IsMounted,
            IsReadOnly = attachment.ReadOnly,
            IsBroken = attachment.FuseExport is { IsDaemonAlive: false },
        };
    }

    private delegate bool ReadVolumeBytes(long offset, Span<byte> buffer);

    private sealed record Description(VolumeFormat Format, long Size, FileSystemSignature FileSystem, string Encryption = "None", string? BackingFile = null, int SnapshotCount = 0, int KeySlotCount = 0);

    /// <summary>An unlocked volume's filesystem, read through its plaintext view (FUSE export or /dev/mapper device).</summary>
    private FileSystemSignature DetectPlaintextFileSystem(string plaintext, long size)
    {
        try
        {
            using var view = Libc.Open(plaintext, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
            return DetectFileSystem((offset, buffer) => RandomAccess.Read(view, buffer, offset) >= 0, size);
        }
        catch (IOException)
        {
            return new FileSystemSignature(FileSystemType.Unknown, null, 0);
        }
    }

    /// <summary>Detects the filesystem from the volume's first 4 KiB, and its btrfs superblock only if that found nothing.</summary>
    private FileSystemSignature DetectFileSystem(ReadVolumeBytes read, long size)
    {
        Array.Clear(probe);
        var first = probe.AsSpan(0, (int)Math.Min(HeadLength, size));
        if (!read(0, first))
            return new FileSystemSignature(FileSystemType.Unknown, null, 0);
        var found = FileSystemSignature.Detect(first);
        if (found.Type is not (FileSystemType.None or FileSystemType.Unknown) || size < BtrfsRegion + HeadLength)
            return found;
        if (!read(BtrfsRegion, probe.AsSpan(BtrfsRegion, HeadLength)))
            return found;
        var btrfs = FileSystemSignature.Detect(probe);
        return btrfs.Type == FileSystemType.Btrfs ? btrfs : found;
    }

    private static Description DescribeLuks(SafeFileHandle image, long size)
    {
        var header = ContainerHeader.OfRawLuks(LuksHeader.Parse(ReadAt(image, 0, LuksHeader.ReadSize)));
        return new Description(VolumeFormat.Luks, Math.Max(0, size - header.Luks.PayloadOffset), FileSystemSignature.Blank,
            header.Describe(), KeySlotCount: header.Luks.ActiveKeySlots);
    }

    private Description DescribeQcow2(SafeFileHandle image, ReadOnlySpan<byte> start)
    {
        var header = Qcow2Header.Parse(start);
        var reader = new Qcow2GuestReader(image, header);
        if (header.IsLuksEncrypted)
        {
            var encryption = ContainerHeader.OfQcow2(image, header);
            return new Description(VolumeFormat.Qcow2, header.VirtualSize, FileSystemSignature.Blank,
                encryption?.Describe() ?? "qcow2 LUKS", header.BackingFile, header.SnapshotCount, encryption?.Luks.ActiveKeySlots ?? 0);
        }
        return new Description(VolumeFormat.Qcow2, header.VirtualSize, DetectFileSystem(reader.TryRead, header.VirtualSize),
            "None", header.BackingFile, header.SnapshotCount);
    }

    private static byte[] ReadAt(SafeFileHandle image, long offset, int count)
    {
        var buffer = new byte[count];
        var read = RandomAccess.Read(image, buffer, offset);
        return buffer[..read];
    }
}
