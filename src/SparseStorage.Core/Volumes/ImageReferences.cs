using System.Text;
using SparseStorage.Core.Devices;
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
public sealed class ImageReferences(Func<IReadOnlyList<PoolDefinition>> readPools)
{
    private IReadOnlyList<PoolDefinition>? pools;

    public ImageReferences(IReadOnlyList<PoolDefinition> pools) : this(() => pools)
    {
    }

    private IReadOnlyList<PoolDefinition> Pools => pools ??= readPools();

    /// <summary>qemu opens at most this many backing files; a longer chain is refused rather than walked.</summary>
    private const int MaxChainDepth = 16;

    /// <summary>One image of a checked chain: its resolved path, its format, and its resolved external data file.</summary>
    private sealed record Link(string Path, bool IsQcow2, string? DataFile);

    /// <summary>Why the image at <paramref name="imagePath"/> (already read: <paramref name="header"/>) refers outside its pool, or null.</summary>
    public string? Refusal(string imagePath, Qcow2Header header) => Walk(imagePath, header).Refusal;

    /// <summary>The refusal as an exception, for operations that must not hand such an image to any tool.</summary>
    public static ImageReferenceOutsidePoolException Refused(string imagePath, string refusal) =>
        new($"'{imagePath}' is refused: {refusal}. An image may only refer to files in its own pool.", imagePath);

    /// <summary>
    /// qemu block options (to append to the qcow2 node of <paramref name="imagePath"/>) that name every file of the
    /// checked chain explicitly and end it with "backing=", so qemu opens exactly what was checked and follows no name
    /// from a header; empty for a file that is not qcow2. Throws <see cref="ImageReferenceOutsidePoolException"/>.
    /// </summary>
    public string QemuOptions(string imagePath)
    {
        if (ReadQcow2(imagePath) is not { } header)
            return "";
        var (links, refusal) = Walk(imagePath, header);
        if (refusal is not null)
            throw Refused(imagePath, refusal);
        if (links.Count == 0)
            return "";
        var options = new StringBuilder();
        var prefix = "";
        foreach (var link in links)
        {
            if (prefix.Length > 0)
                options.Append($",{prefix}driver={(link.IsQcow2 ? "qcow2" : "raw")},{prefix}file.driver=file,{prefix}file.filename={FuseExporter.Escape(link.Path)}");
            if (link.DataFile is not null)
                options.Append($",{prefix}data-file.driver=file,{prefix}data-file.filename={FuseExporter.Escape(link.DataFile)}");
            if (!link.IsQcow2)
                return options.ToString();
            prefix += "backing.";
        }
        return options.Append($",{prefix.TrimEnd('.')}=").ToString();
    }


    private (IReadOnlyList<Link> Links, string? Refusal) Walk(string imagePath, Qcow2Header header)
    {
        var links = new List<Link>();
        var pool = PoolOf(imagePath);
        if (pool is null)
            return (links, null); // not a pool volume: nothing to confine it to (archives, temporary copies)
        var seen = new HashSet<string>(StringComparer.Ordinal) { imagePath };
        var (path, current) = (imagePath, (Qcow2Header?)header);
        while (true)
        {
            string? dataFile = null;
            if (current is not null)
            {
                var (resolvedData, dataRefusal) = DataFileOf(path, current, pool);
                if (dataRefusal is not null)
                    return (links, dataRefusal);
                dataFile = resolvedData;
            }
            links.Add(new Link(path, current is not null, dataFile));
            if (current?.BackingFile is not { } backing)
                return (links, null);
            if (links.Count > MaxChainDepth)
                return (links, $"its backing chain is longer than {MaxChainDepth} images");
            var (next, backingRefusal) = Resolve(path, backing, "backing file", pool);
            if (backingRefusal is not null)
                return (links, backingRefusal);
            if (!seen.Add(next!))
                return (links, $"its backing chain loops back to '{next}'");
            var (nextHeader, readRefusal) = ReadBacking(next!, current.BackingFormat);
            if (readRefusal is not null)
                return (links, readRefusal);
            (path, current) = (next!, nextHeader);
        }
    }

    private (string? Path, string? Refusal) DataFileOf(string imagePath, Qcow2Header header, PoolDefinition pool)
    {
        if (header.DataFile is { } dataFile)
            return Resolve(imagePath, dataFile, "external data file", pool);
        return (null, header.HasExternalDataFile ? "it needs an external data file but does not name one" : null);
    }

    /// <summary>The backing image's qcow2 header, null for a raw one; the format named in the overlay wins over a guess.</summary>
    private static (Qcow2Header? Header, string? Refusal) ReadBacking(string path, string? format)
    {
        if (format is not (null or "qcow2" or "raw"))
            return (null, $"its backing file '{path}' has format '{format}', which the module does not open");
        if (format == "raw")
            return (null, null);
        try
        {
            var header = ReadQcow2(path);
            return header is null && format == "qcow2" ? (null, $"its backing file '{path}' is not a qcow2 image") : (header, null);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnsafeVolumeFileException)
        {
            return (null, $"its backing file '{path}' cannot be read safely ({e.Message})");
        }
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
        Pools.Where(p => MountTable.IsUnder(resolvedPath, p.Path) && resolvedPath != p.Path).MaxBy(p => p.Path.Length);

    private static Qcow2Header? ReadQcow2(string path)
    {
        using var file = VolumeFile.OpenRead(path);
        var head = new byte[4096];
        var read = RandomAccess.Read(file.Handle, head, 0);
        return Qcow2Header.HasMagic(head.AsSpan(0, read)) ? Qcow2Header.Parse(head.AsSpan(0, read)) : null;
    }
}
