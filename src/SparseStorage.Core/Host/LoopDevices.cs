namespace SparseStorage.Core.Host;

/// <summary>An attached loop device as the kernel reports it in /sys/block/loopN.</summary>
public sealed record LoopDevice(string Device, string BackingFile, string DeviceNumber, bool ReadOnly);

/// <summary>Reads loop attachments from sysfs: no losetup process, and loops attached by hand are seen too.</summary>
public static class LoopDevices
{
    private const string DeletedSuffix = " (deleted)";

    public static IReadOnlyList<LoopDevice> Read(string sysBlock = "/sys/block")
    {
        var devices = new List<LoopDevice>();
        if (!Directory.Exists(sysBlock))
            return devices;
        foreach (var directory in Directory.EnumerateDirectories(sysBlock, "loop*"))
        {
            var backing = ReadLine(Path.Combine(directory, "loop", "backing_file"));
            if (backing is null)
                continue;
            if (backing.EndsWith(DeletedSuffix, StringComparison.Ordinal))
                backing = backing[..^DeletedSuffix.Length];
            devices.Add(new LoopDevice("/dev/" + Path.GetFileName(directory), backing,
                ReadLine(Path.Combine(directory, "dev")) ?? "", ReadLine(Path.Combine(directory, "ro")) == "1"));
        }
        return devices;
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
