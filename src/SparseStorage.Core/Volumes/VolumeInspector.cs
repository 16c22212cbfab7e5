using SparseStorage.Core.Devices;
using SparseStorage.Core.Formats;
using SparseStorage.Core.Host;
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

    public SparseVolume Inspect(string path, string? pool)
    {
        var status = Libc.Stat(path);
        using var image = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.None);
        var head = new byte[Math.Min(FileSystemSignature.ProbeLength, status.Size)];
        RandomAccess.Read(image.SafeFileHandle, head, 0);
        var attachment = attachments.Of(path);
        var volume = Qcow2Header.HasMagic(head) ? DescribeQcow2(image, head)
            : LuksHeader.HasMagic(head) ? DescribeLuks(image, status.Size)
            : DescribeRaw(head, status.Size);
        return new SparseVolume
        {
            Name = NameOf(path),
            Path = path,
            Pool = pool,
            Format = volume.Format,
            SizeBytes = volume.Size,
            AllocatedBytes = status.AllocatedBytes,
            FileSystem = volume.FileSystem.Type,
            Label = volume.FileSystem.Label,
            Encryption = volume.Encryption,
            BackingFile = volume.BackingFile,
            SnapshotCount = volume.SnapshotCount,
            LoopDevice = attachment.LoopDevice,
            MountPoint = attachment.MountPoints.FirstOrDefault(),
            IsAttached = attachment.IsAttached,
            IsMounted = attachment.IsMounted,
            IsReadOnly = attachment.ReadOnly,
            IsBroken = attachment.FuseExport is { IsDaemonAlive: false },
        };
    }

    private sealed record Description(VolumeFormat Format, long Size, FileSystemSignature FileSystem, string Encryption = "None", string? BackingFile = null, int SnapshotCount = 0);

    private static Description DescribeRaw(byte[] head, long size) =>
        new(VolumeFormat.Raw, size, FileSystemSignature.Detect(head));

    private static Description DescribeLuks(FileStream image, long size)
    {
        var header = LuksHeader.Parse(ReadAt(image, 0, LuksHeader.ReadSize));
        return new Description(VolumeFormat.Luks, Math.Max(0, size - header.PayloadOffset), FileSystemSignature.Blank,
            $"LUKS{header.Version} {header.Cipher}");
    }

    private static Description DescribeQcow2(FileStream image, byte[] head)
    {
        var header = Qcow2Header.Parse(head);
        var guest = new byte[Math.Min(FileSystemSignature.ProbeLength, header.VirtualSize)];
        var fileSystem = header.IsLuksEncrypted ? FileSystemSignature.Blank
            : new Qcow2GuestReader(image, header).TryRead(0, guest) ? FileSystemSignature.Detect(guest)
            : new FileSystemSignature(FileSystemType.Unknown, null, 0);
        return new Description(VolumeFormat.Qcow2, header.VirtualSize, fileSystem,
            header.IsLuksEncrypted ? "qcow2 LUKS" : "None", header.BackingFile, header.SnapshotCount);
    }

    private static byte[] ReadAt(FileStream image, long offset, int count)
    {
        var buffer = new byte[count];
        var read = RandomAccess.Read(image.SafeFileHandle, buffer, offset);
        return buffer[..read];
    }
}
