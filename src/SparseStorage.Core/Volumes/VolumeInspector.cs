using Microsoft.Win32.SafeHandles;
using SparseStorage.Core.Devices;
using SparseStorage.Core.Encryption;
using SparseStorage.Core.Formats;
using SparseStorage.Core.Host;
using SparseStorage.Core.Native;

namespace SparseStorage.Core.Volumes;

/// <summary>
/// Builds a <see cref="SparseVolume"/> from an image file by reading its headers natively: one stat and one
/// read of the first 68 KiB per volume, no process. Only a regular file with one link is opened (<see cref="VolumeFile"/>).
/// When given <paramref name="references"/>, a qcow2 image that refers to files outside its pool is described as broken.
/// </summary>
public sealed class VolumeInspector(AttachmentState attachments, ImageReferences? references = null)
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
        using var file = VolumeFile.OpenRead(path);
        var status = file.Status;
        var image = file.Handle;
        var length = RandomAccess.Read(image, head, 0);
        var start = head.AsSpan(0, length);
        var attachment = attachments.Of(path);
        var volume = Qcow2Header.HasMagic(start) ? DescribeQcow2(path, image, start)
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
            DataFile = volume.DataFile,
            IsBroken = volume.ReferenceRefusal is not null || attachment.FuseExport is { IsDaemonAlive: false },
            BrokenReason = volume.ReferenceRefusal ?? (attachment.FuseExport is { IsDaemonAlive: false } ? "its qemu-storage-daemon is gone; dismount it" : null),
            ReferenceRefusal = volume.ReferenceRefusal,
        };
    }

    /// <summary>A file of a pool listing that cannot be described as a volume, shown with the reason instead of hidden.</summary>
    public static SparseVolume Broken(string path, string? pool, string reason, long allocatedBytes) => new()
    {
        Name = NameOf(path),
        Path = path,
        Pool = pool,
        FileSystem = FileSystemType.Unknown,
        AllocatedBytes = allocatedBytes,
        IsBroken = true,
        BrokenReason = reason,
    };

    private delegate bool ReadVolumeBytes(long offset, Span<byte> buffer);

    private sealed record Description(VolumeFormat Format, long Size, FileSystemSignature FileSystem, string Encryption = "None", string? BackingFile = null, int SnapshotCount = 0, int KeySlotCount = 0)
    {
        public string? DataFile { get; init; }
        public string? ReferenceRefusal { get; init; }
    }

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
        var found = GuestSignature(first);
        if (found.Type is not (FileSystemType.None or FileSystemType.Unknown) || size < BtrfsRegion + HeadLength)
            return found;
        if (!read(BtrfsRegion, probe.AsSpan(BtrfsRegion, HeadLength)))
            return found;
        var btrfs = GuestSignature(probe);
        return btrfs.Type == FileSystemType.Btrfs ? btrfs : found;
    }

    /// <summary>
    /// A superblock is the guest's data, not the image's: one out of range makes the filesystem Unknown, while the
    /// volume itself stays usable (its owner can still mount, resize or remove it).
    /// </summary>
    private static FileSystemSignature GuestSignature(ReadOnlySpan<byte> data)
    {
        try
        {
            return FileSystemSignature.Detect(data);
        }
        catch (InvalidDataException)
        {
            return new FileSystemSignature(FileSystemType.Unknown, null, 0);
        }
    }

    private static Description DescribeLuks(SafeFileHandle image, long size)
    {
        var header = ContainerHeader.OfRawLuks(LuksHeader.Parse(ReadAt(image, 0, LuksHeader.ReadSize)));
        return new Description(VolumeFormat.Luks, Math.Max(0, size - header.Luks.PayloadOffset), FileSystemSignature.Blank,
            header.Describe(), KeySlotCount: header.Luks.ActiveKeySlots);
    }

    private Description DescribeQcow2(string path, SafeFileHandle image, ReadOnlySpan<byte> start)
    {
        var header = Qcow2Header.Parse(start);
        var refusal = references?.Refusal(path, header);
        var reader = new Qcow2GuestReader(image, header);
        if (header.IsLuksEncrypted)
        {
            var encryption = ContainerHeader.OfQcow2(image, header);
            return new Description(VolumeFormat.Qcow2, header.VirtualSize, FileSystemSignature.Blank,
                encryption?.Describe() ?? "qcow2 LUKS", header.BackingFile, header.SnapshotCount, encryption?.Luks.ActiveKeySlots ?? 0)
            { DataFile = header.DataFile, ReferenceRefusal = refusal };
        }
        // The guest data of an image with an external data file lives elsewhere: it is not read from this file.
        var fileSystem = header.HasExternalDataFile || header.DataFile is not null ? FileSystemSignature.Blank : DetectFileSystem(reader.TryRead, header.VirtualSize);
        return new Description(VolumeFormat.Qcow2, header.VirtualSize, fileSystem, "None", header.BackingFile, header.SnapshotCount)
            { DataFile = header.DataFile, ReferenceRefusal = refusal };
    }

    private static byte[] ReadAt(SafeFileHandle image, long offset, int count)
    {
        var buffer = new byte[count];
        var read = RandomAccess.Read(image, buffer, offset);
        return buffer[..read];
    }
}
