using System.Globalization;
using SparseStorage.Core.Native;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Backups;

/// <summary>
/// Archives a volume into a GNU sparse tar compressed with multithreaded zstd (<c>.tar.zst</c>), and expands it
/// back sparse and byte-identical. The format needs no module to read: <c>tar --sparse -I zstd -xf</c> opens it.
/// Expanding treats the archive as untrusted: its tar stream is read in-process and must hold one regular file
/// (see <see cref="SingleFileTarReader"/>). zstd's frame checksum and tar's own structure make a truncated or damaged
/// archive fail on expand; both sides work under a hidden temporary name, so a failure never leaves a file under the final name.
/// </summary>
public sealed class ArchiveService(StorageContext context)
{
    public const string Extension = ".tar.zst";

    /// <summary>
    /// The command that archives the image. A sparse image's tar stream is written by <see cref="SparseTarWriter"/>
    /// into zstd, byte for byte what GNU tar would write, without tar's 512-byte reads; any other file (not sparse, or
    /// with a long name) goes through GNU tar itself.
    /// </summary>
    public static ToolCommand CompressCommand(string image, string archive, int level, IProgress<OperationProgress>? progress = null) =>
        SparseTarWriter.For(image) is { } tar
            ? new ToolCommand("zstd", "-q", "-T0", $"-{Level(level)}", "-o", archive)
            {
                StandardInputSource = (output, token) => tar.Write(output, token, (done, total) => progress?.Report(new OperationProgress(
                    $"Archiving {Path.GetFileName(image)}", $"{ByteSize.Format(done)} of {ByteSize.Format(total)} of data compressed", done, total))),
                Timeout = TimeSpan.FromHours(12),
            }
            : new ToolCommand("tar", "--sparse", "--create", $"--use-compress-program=zstd -T0 -{Level(level)}",
                $"--file={archive}", $"--directory={Path.GetDirectoryName(image)}", "--", Path.GetFileName(image)) { Timeout = TimeSpan.FromHours(12) };

    /// <summary>What <see cref="CompressCommand"/> runs, as a person would read it.</summary>
    public static string DescribeCompression(string image, string archive, int level)
    {
        var command = CompressCommand(image, archive, level);
        return command.StandardInputSource is null ? command.ToString() : $"tar --sparse --create -f - {Path.GetFileName(image)} (written in-process) | {command}";
    }

    private static string Level(int level) => level.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// The command that expands an archive: zstd decompresses it, fed in-process so that progress can be told, and the
    /// tar stream it writes is read in-process by <see cref="SingleFileTarReader"/>, which writes the one file into
    /// <paramref name="output"/>. tar itself never runs on an archive, so nothing in it can create a device, FIFO or link.
    /// </summary>
    internal static ToolCommand ExpandCommand(UntrustedFile.Opened archive, string archivePath, SingleFileTarReader output, IProgress<OperationProgress>? progress = null) =>
        new ToolCommand("zstd", "--decompress", "--stdout", "--quiet")
        {
            StandardInputSource = (input, token) => Feed(archive, archivePath, input, progress, token),
            StandardOutputSink = output.Read,
            Timeout = TimeSpan.FromHours(12),
        };

    /// <summary>What <see cref="ExpandCommand"/> runs, as a person would read it.</summary>
    public static string DescribeExpansion(string archive, string target) =>
        $"zstd --decompress --stdout --quiet < {archive} | (one regular file read from the tar stream in-process, written into a new 0600 file renamed to {target})";

    private static void Feed(UntrustedFile.Opened archive, string archivePath, Stream input, IProgress<OperationProgress>? progress, CancellationToken cancellationToken)
    {
        var buffer = new byte[1 << 20];
        var (done, total) = (0L, archive.Size);
        for (int read; (read = RandomAccess.Read(archive.Handle, buffer, done)) > 0;)
        {
            cancellationToken.ThrowIfCancellationRequested();
            input.Write(buffer, 0, read);
            done += read;
            progress?.Report(new OperationProgress($"Expanding {Path.GetFileName(archivePath)}", $"{ByteSize.Format(done)} of {ByteSize.Format(total)} of the archive read", done, Math.Max(done, total)));
        }
    }

    public static int RequireLevel(int level) =>
        level is >= 1 and <= 19 ? level
            : throw new InvalidStorageArgumentException("InvalidCompressionLevel", $"-Level {level} is out of range: zstd levels 1 (fastest) to 19 (smallest).", level);

    public string ResolveArchivePath(SparseVolume volume, string destination)
    {
        var full = Path.GetFullPath(destination);
        if (Directory.Exists(full))
            full = Path.Combine(full, Path.GetFileName(volume.Path) + Extension);
        if (!full.EndsWith(Extension, StringComparison.Ordinal))
            throw new InvalidStorageArgumentException("InvalidArchiveExtension", $"An archive's name ends in {Extension} so that tar and zstd tools recognise it; '{destination}' does not.", destination);
        if (!Directory.Exists(Path.GetDirectoryName(full)))
            throw new InvalidStorageArgumentException("DirectoryNotFound", $"The directory of '{destination}' does not exist.", destination);
        return full;
    }

    public VolumeArchive Compress(SparseVolume volume, string archivePath, int level, bool force, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        RequireLevel(level);
        ToolLocator.Default.Locate("zstd"); // tar starts zstd itself and would only say that it failed
        using var volumeLock = context.LockVolume(volume.Path, cancellationToken);
        var current = new VolumeCatalog(context).Get(volume.Path);
        if (File.Exists(archivePath) && !force)
            throw new ResourceExistsException("ArchiveExists", $"'{archivePath}' already exists; use -Force to replace it.", archivePath);
        var temporary = SiblingFile.TemporaryFor(archivePath);
        try
        {
            WriteConsistency consistency;
            using (var freeze = FileSystemFreeze.Begin(context, current, context.ReadAttachments().Of(current.Path), force, "archive it", cancellationToken))
            {
                consistency = freeze.Consistency;
                progress?.Report(new OperationProgress($"Archiving {current.Name}", $"Compressing {ByteSize.Format(current.AllocatedBytes)} of data", 0, current.AllocatedBytes));
                context.Runner.RunChecked(CompressCommand(current.Path, temporary, level, progress), cancellationToken);
            }
            using (var written = new FileStream(temporary, FileMode.Open, FileAccess.ReadWrite))
                written.Flush(flushToDisk: true);
            File.Move(temporary, archivePath, overwrite: force);
            return new VolumeArchive
            {
                Path = archivePath, Source = current.Path, Codec = $"tar --sparse | zstd -{level}", SizeBytes = current.SizeBytes,
                DataBytes = current.AllocatedBytes, StoredBytes = new FileInfo(archivePath).Length, Consistency = consistency,
            };
        }
        finally
        {
            SiblingFile.Discard(temporary);
        }
    }

    /// <summary>Where an archive would expand to, checked: the archive exists, the target lies in a pool and may be replaced.</summary>
    public string PlanExpand(string archivePath, string destination, bool force)
    {
        if (!File.Exists(archivePath))
            throw new InvalidStorageArgumentException("ArchiveNotFound", $"No archive at '{archivePath}'.", archivePath);
        // A directory gets the image's own name back: web01.img.tar.zst expands to web01.img.
        var named = Directory.Exists(destination) && Path.GetFileName(archivePath).EndsWith(Extension, StringComparison.Ordinal)
            ? Path.Combine(destination, Path.GetFileName(archivePath)[..^Extension.Length])
            : destination;
        var (target, _) = context.Pools.Confine(named);
        if (!VolumeInspector.Extensions.Contains(Path.GetExtension(target).ToLowerInvariant()))
            throw new InvalidStorageArgumentException("InvalidVolumeExtension", $"'{target}' does not end in {string.Join(", ", VolumeInspector.Extensions)}, so no pool would list it; give the volume file's name.", target);
        VolumeReplacement.RequireReplaceable(context, target, force);
        return target;
    }

    /// <summary>
    /// Expands an archive into a volume file in a pool. The archive must hold exactly one regular file, whose format
    /// must fit the target's extension; it is written into a hidden 0600 file the module creates (O_EXCL), flushed,
    /// checked and renamed. Anything else in the archive is refused before the target changes.
    /// </summary>
    public SparseVolume Expand(string archivePath, string target, bool force, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ToolLocator.Default.Locate("zstd");
        using var archive = UntrustedFile.OpenRegular(archivePath, "archive");
        using var volumeLock = context.LockVolume(target, cancellationToken);
        VolumeReplacement.RequireReplaceable(context, target, force);
        var temporary = SiblingFile.TemporaryFor(target);
        try
        {
            using (var output = Libc.Open(temporary, Libc.O_RDWR | Libc.O_CREAT | Libc.O_EXCL | Libc.O_CLOEXEC, 0b110_000_000))
            {
                var reader = new SingleFileTarReader(output, archivePath);
                context.Runner.RunChecked(ExpandCommand(archive, archivePath, reader, progress), cancellationToken);
                if (!reader.Complete)
                    throw new StorageOperationException("ArchiveTruncated", $"'{archivePath}' ends before its member does; it is cut short or damaged. Nothing was expanded.", archivePath);
                RandomAccess.FlushToDisk(output);
            }
            var format = new VolumeInspector(new Host.AttachmentState([], [], [])).Inspect(temporary, null).Format;
            VolumeCreator.RequireExtensionFor(target, format);
            File.Move(temporary, target, overwrite: force);
        }
        finally
        {
            SiblingFile.Discard(temporary);
        }
        return new VolumeCatalog(context).Get(target);
    }
}
