using System.Text;
using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Volumes;

/// <summary>What each filesystem allows at creation, and the mkfs command that makes it.</summary>
public static class FileSystemRules
{
    private sealed record Rule(string Tool, int MaxLabelBytes, long MinimumBytes, string[] Options, string[] NoDiscard);

    // mke2fs zeroes the journal (and, without lazy init, the inode tables); on a new image file that allocates a
    // gigabyte for a 2 TB volume although the file already reads as zeros. meta_bg without resize_inode keeps three
    // copies of the group descriptors per meta group instead of one in every sparse_super group (ext4: 213 MiB at
    // 16 TB); ext2 and ext3 know meta_bg too, and the kernel grows such filesystems online (fs/ext4/resize.c).
    // A qcow2 image allocates a whole 64 KiB cluster for each of those scattered 4 KiB blocks (163 MiB at 2 TB), so
    // an image headed for qcow2 keeps the default descriptor layout and packs bitmaps, inode tables and journal at
    // the start instead (packed_meta_blocks, ext4 only: 25 MiB at 2 TB).
    // What ext2 and ext3 still cost is inherent: without uninit_bg every block group's two bitmaps are written,
    // 8 KiB per 128 MiB (about 130 MiB at 2 TB, 945 MiB at 16 TB).
    private static readonly string[] ExtLazyInit = ["lazy_itable_init=1", "lazy_journal_init=1"];

    // Minimums are the smallest sizes mkfs accepts (mkfs.xfs: 300 MiB since xfsprogs 5.19; mkfs.btrfs: about 114 MiB).
    private static readonly Dictionary<FileSystemType, Rule> Rules = new()
    {
        [FileSystemType.Ext2] = new("mkfs.ext2", 16, ByteSize.FromMiB(1), ["-F", "-q"], []),
        [FileSystemType.Ext3] = new("mkfs.ext3", 16, ByteSize.FromMiB(4), ["-F", "-q"], []),
        [FileSystemType.Ext4] = new("mkfs.ext4", 16, ByteSize.FromMiB(4), ["-F", "-q"], []),
        [FileSystemType.Xfs] = new("mkfs.xfs", 12, ByteSize.FromMiB(300), ["-f", "-q"], ["-K"]),
        [FileSystemType.Btrfs] = new("mkfs.btrfs", 255, ByteSize.FromMiB(128), ["-f", "-q"], ["-K"]),
        [FileSystemType.Swap] = new("mkswap", 16, ByteSize.FromMiB(1), [], []),
    };

    /// <summary>Checks size and label for a new filesystem; the message says the limit.</summary>
    public static void Validate(FileSystemType type, ByteSize size, string? label)
    {
        if (type is FileSystemType.None)
        {
            if (label is not null)
                throw new InvalidStorageArgumentException("LabelWithoutFileSystem", "-Label needs a -FileSystem to write it to.", label);
            return;
        }
        if (!Rules.TryGetValue(type, out var rule))
            throw new InvalidStorageArgumentException("UnsupportedFileSystem", $"The module cannot create a '{type}' filesystem.", type);
        if (size.Bytes < rule.MinimumBytes)
            throw new InvalidStorageArgumentException("VolumeTooSmallForFileSystem",
                $"A {type} filesystem needs at least {ByteSize.Format(rule.MinimumBytes)}; {size} is too small.", size);
        if (label is not null && (Encoding.UTF8.GetByteCount(label) > rule.MaxLabelBytes || label.Contains('\0')))
            throw new InvalidStorageArgumentException("InvalidLabel",
                $"The label '{label}' is too long for {type}: at most {rule.MaxLabelBytes} bytes.", label);
    }

    /// <summary>
    /// The mkfs command. On a preallocated image mkfs must not discard: on a file, discard punches holes and would
    /// undo the preallocation. On a new image file, which reads as zeros, mkfs need not zero anything itself
    /// (<paramref name="zeroedImage"/>); a device may hold old data and keeps mkfs's defaults. <paramref name="toQcow2"/>:
    /// the image is converted to qcow2 afterwards, where metadata spread over the disk costs whole clusters.
    /// </summary>
    public static ToolCommand MakeCommand(FileSystemType type, string target, string? label, bool keepAllocation = false, bool zeroedImage = false, bool toQcow2 = false)
    {
        var rule = Rules[type];
        var arguments = new List<string>(rule.Options);
        if (type is FileSystemType.Ext2 or FileSystemType.Ext3 or FileSystemType.Ext4)
        {
            if (zeroedImage && !toQcow2)
                arguments.AddRange(["-O", "^resize_inode,meta_bg"]);
            // mke2fs reads only the last -E, so every extended option goes into one.
            string[] extended =
            [
                .. zeroedImage ? ExtLazyInit : [],
                .. zeroedImage && toQcow2 && type == FileSystemType.Ext4 ? ["packed_meta_blocks=1"] : Array.Empty<string>(),
                .. keepAllocation ? ["nodiscard"] : Array.Empty<string>(),
            ];
            if (extended.Length > 0)
                arguments.AddRange(["-E", string.Join(',', extended)]);
        }
        else if (keepAllocation)
            arguments.AddRange(rule.NoDiscard);
        if (label is not null)
            arguments.AddRange(["-L", label]);
        arguments.Add(target);
        return new ToolCommand(rule.Tool, arguments) { Timeout = TimeSpan.FromHours(2) };
    }

    /// <summary>Filesystems whose writes fsfreeze can pause.</summary>
    public static bool CanFreeze(FileSystemType type) =>
        type is FileSystemType.Ext2 or FileSystemType.Ext3 or FileSystemType.Ext4 or FileSystemType.Xfs or FileSystemType.Btrfs;

    /// <summary>
    /// A check that changes nothing, and the exit codes that mean "the filesystem has errors" (other non-zero codes
    /// mean the check itself failed). Null for types without a checker.
    /// </summary>
    public static (ToolCommand Command, int[] ErrorExitCodes)? ReadOnlyCheck(FileSystemType type, string target) => type switch
    {
        // e2fsck's exit code is a bit mask: 4 errors left uncorrected, 8 aborted; damage bad enough to abort gives 12,
        // and a filesystem that cannot even be opened (descriptors cut off with the image: a short read) gives 8.
        FileSystemType.Ext2 or FileSystemType.Ext3 or FileSystemType.Ext4 => Checker(new ToolCommand("e2fsck", "-f", "-n", target), 4, 8, 12),
        FileSystemType.Xfs => Checker(new ToolCommand("xfs_repair", "-n", "-f", target), 1),
        FileSystemType.Btrfs => Checker(new ToolCommand("btrfs", "check", "--readonly", target), 1),
        _ => null,
    };

    private static (ToolCommand, int[]) Checker(ToolCommand command, params int[] errorExitCodes) =>
        (command with { SuccessExitCodes = [0, .. errorExitCodes], Timeout = TimeSpan.FromHours(2) }, errorExitCodes);
}
