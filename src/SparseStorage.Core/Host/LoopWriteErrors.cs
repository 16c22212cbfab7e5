namespace SparseStorage.Core.Host;

/// <summary>
/// Writes a loop device failed since it was attached. When its backing file cannot grow (the pool is full) the
/// kernel fails the write ("critical space allocation error, dev loop3", "Buffer I/O error on device loop3") while
/// the filesystem inside often carries on and sync returns success: the data is lost without a word to the writer.
/// </summary>
public static class LoopWriteErrors
{
    /// <summary>The kernel's messages about failed writes to <paramref name="loopDevice"/> since its current attachment, oldest first.</summary>
    public static IReadOnlyList<string> SinceAttach(string loopDevice, IReadOnlyList<string> kernelMessages)
    {
        var name = Path.GetFileName(loopDevice);
        // losetup's attach logs the capacity change from 0; what came before it concerned an earlier backing file.
        var attached = kernelMessages.ToList().FindLastIndex(m => m.StartsWith($"{name}: detected capacity change from 0 to", StringComparison.Ordinal));
        return kernelMessages.Skip(attached + 1).Where(m => IsWriteError(m, name)).ToList();
    }

    // The forms of the block layer ("dev loop3,"), buffer heads ("device loop3,"), filesystems ("(device loop3)",
    // "EXT4-fs (loop3)") and the loop driver ("loop3: Write error"); only failures of writes count.
    private static bool IsWriteError(string message, string device) =>
        new[] { $"dev {device},", $"device {device},", $"(device {device})", $"({device})", $"{device}: " }.Any(m => message.Contains(m, StringComparison.Ordinal))
        && message.Contains("error", StringComparison.OrdinalIgnoreCase)
        && message.Contains("writ", StringComparison.OrdinalIgnoreCase);
}
