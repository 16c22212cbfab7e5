using SparseStorage.Core.Formats;
using SparseStorage.Core.Host;
using SparseStorage.Core.Native;
using SparseStorage.Core.Pools;

namespace SparseStorage.Core.Volumes;

/// <summary>
/// Confines the files a qcow2 image makes qemu open besides itself — its backing chain and external data files — to
/// the image's own pool. An image's header is written by whoever owns the volume, so a tenant could otherwise name
/// another tenant's volume or a host file, and the root daemon would open it for them.
/// </summary>
public sealed class ImageReferences(IReadOnlyList<PoolDefinition> pools)
{
    /// <summary>qemu opens at most this many backing files; a longer chain is refused rather than walked.</summary>
    private const int MaxChainDepth = 16;

    /// <summary>Why the image at <paramref name="imagePath"/> (already read: <paramref name="header"/>) refers outside its pool, or null.</summary>
    public string? Refusal(string imagePath, Qcow2Header header)
    {
        var pool = PoolOf(imagePath);
        if (pool is null)
            return null; // not a pool volume: nothing to confine it to (archives, temporary copies)
        var seen = new HashSet<string>(StringComparer.Ordinal) { imagePath };
        var current = (Path: imagePath, Header: header);
        for (var depth = 0; ; depth++)
        {
            if (DataFileRefusal(current.Path, current.Header, pool) is { } dataRefusal)
                return dataRefusal;
            if (current.Header.BackingFile is not { } backing)
                return null;
            if (depth >= MaxChainDepth)
                return $"its backing chain is longer than {MaxChainDepth} images";
            var (next, backingRefusal) = Resolve(current.Path, backing, "backing file", pool);
            if (backingRefusal is not null)
                return backingRefusal;
            if (!seen.Add(next!))
                return $"its backing chain loops back to '{next}'";
            Qcow2Header? nextHeader;
            try
            {
                nextHeader = ReadQcow2(next!);
            }
            catch (Exception e) when (e is IOException or InvalidDataException or UnsafeVolumeFileException)
            {
                return $"its backing file '{next}' cannot be read safely ({e.Message})";
            }
            if (nextHeader is null)
                return null; // a raw base: qemu opens nothing further from it
            current = (next!, nextHeader);
        }
    }

    /// <summary>The refusal as an exception, for operations that must not hand such an image to any tool.</summary>
    public static ImageReferenceOutsidePoolException Refused(string imagePath, string refusal) =>
        new($"'{imagePath}' is refused: {refusal}. An image may only refer to files in its own pool.", imagePath);

    private string? DataFileRefusal(string imagePath, Qcow2Header header, PoolDefinition pool)
    {
        if (header.DataFile is { } dataFile)
            return Resolve(imagePath, dataFile, "external data file", pool).Refusal;
        return header.HasExternalDataFile ? "it needs an external data file but does not name one" : null;
    }

    private (string? Path, string? Refusal) Resolve(string imagePath, string reference, string what, PoolDefinition pool)
    {
        // qemu reads "proto:..." and "json:{...}" as protocol or option strings, not as file names.
        if (reference.Contains(':') || reference.Length == 0 || reference.Contains('\0'))
            return (null, $"its {what} '{reference}' is not a plain file name");
        var combined = System.IO.Path.GetFullPath(reference, System.IO.Path.GetDirectoryName(imagePath)!);
        if (LibcPaths.RealPath(combined) is not { } resolved)
            return (null, $"its {what} '{reference}' does not exist");
        if (PoolOf(resolved) is not { } referencedPool || referencedPool.Name != pool.Name)
            return (null, $"its {what} '{reference}' resolves to '{resolved}', outside pool '{pool.Name}'");
        if (VolumeFile.RefusalAt(resolved) is { } unsafeFile)
            return (null, $"its {what} '{resolved}' is not a plain file: {unsafeFile}");
        return (resolved, null);
    }

    private PoolDefinition? PoolOf(string resolvedPath) =>
        pools.Where(p => MountTable.IsUnder(resolvedPath, p.Path) && resolvedPath != p.Path).MaxBy(p => p.Path.Length);

    private static Qcow2Header? ReadQcow2(string path)
    {
        using var file = VolumeFile.OpenRead(path);
        var head = new byte[4096];
        var read = RandomAccess.Read(file.Handle, head, 0);
        return Qcow2Header.HasMagic(head.AsSpan(0, read)) ? Qcow2Header.Parse(head.AsSpan(0, read)) : null;
    }
}
