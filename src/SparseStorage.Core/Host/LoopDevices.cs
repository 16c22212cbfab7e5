using System.Globalization;

namespace SparseStorage.Core.Host;

/// <summary>
/// An attached loop device as the kernel reports it in /sys/block/loopN. <see cref="DiskSequence"/> is the kernel's
/// diskseq, which changes with every attach and detach, so a device and its sequence name one attachment (0 on a
/// kernel before 5.15, which has none).
/// </summary>
public sealed record LoopDevice(string Device, string BackingFile, string DeviceNumber, bool ReadOnly, long DiskSequence = 0)
{
    /// <summary>
    /// What the kernel shows as the backing file once the FUSE mount the file lies on is detached: its
    /// qemu-storage-daemon exited (it lifts its own mount lazily on SIGTERM) or the mount was lifted with umount -l.
    /// </summary>
    public const string DetachedBackingFile = "/";

    public bool IsBackingDetached => BackingFile == DetachedBackingFile;
}

/// <summary>
/// A loop device as a FUSE export's record remembers it from its attach: once the export's path no longer names the
/// loop's backing file, only this finds the loop. The disk sequence proves that it is still that attachment, never a
/// loop detached since and attached to another volume's file.
/// </summary>
public sealed record LoopIdentity(string Device, string DeviceNumber, long DiskSequence)
{
    public static LoopIdentity Of(LoopDevice loop) => new(loop.Device, loop.DeviceNumber, loop.DiskSequence);

    /// <summary>Whether <paramref name="loop"/> is this attachment; never without a disk sequence to prove it.</summary>
    public bool Is(LoopDevice loop) =>
        DiskSequence > 0 && loop.Device == Device && loop.DeviceNumber == DeviceNumber && loop.DiskSequence == DiskSequence;

    public override string ToString() => $"{Device} ({DeviceNumber}, diskseq {DiskSequence.ToString(CultureInfo.InvariantCulture)})";
}

/// <summary>Reads loop attachments from sysfs: no losetup process, and loops attached by hand are seen too.</summary>
public static class LoopDevices
{
    private const string DeletedSuffix = " (deleted)";

    public static IReadOnlyList<LoopDevice> Read(string sysBlock = "/sys/block") =>
        Directory.Exists(sysBlock) ? Directory.EnumerateDirectories(sysBlock, "loop*").Select(ReadAt).OfType<LoopDevice>().ToList() : [];

    /// <summary>One loop device (/dev/loopN) if it is attached.</summary>
    public static LoopDevice? Find(string device, string sysBlock = "/sys/block") =>
        device.StartsWith("/dev/loop", StringComparison.Ordinal) ? ReadAt(Path.Combine(sysBlock, Path.GetFileName(device))) : null;

    private static LoopDevice? ReadAt(string directory)
    {
        var backing = ReadLine(Path.Combine(directory, "loop", "backing_file"));
        if (backing is null)
            return null;
        if (backing.EndsWith(DeletedSuffix, StringComparison.Ordinal))
            backing = backing[..^DeletedSuffix.Length];
        return new LoopDevice("/dev/" + Path.GetFileName(directory), backing,
            ReadLine(Path.Combine(directory, "dev")) ?? "", ReadLine(Path.Combine(directory, "ro")) == "1",
            long.TryParse(ReadLine(Path.Combine(directory, "diskseq")), NumberStyles.None, CultureInfo.InvariantCulture, out var sequence) ? sequence : 0);
    }

    private static string? ReadLine(string path)
    {
        try
        {
            return File.ReadAllText(path).TrimEnd('\n');
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}
