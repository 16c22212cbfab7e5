using System.Runtime.InteropServices;
using System.Text;

namespace SparseStorage.Core.Ceph;

/// <summary>
/// An RBD image opened in this process through librbd over one librados connection (<see cref="RadosConnection"/>),
/// so asking for its snapshots and watchers, or taking and removing a snapshot, costs no rbd process and no second
/// connection. What librbd returns comes from the cluster and is treated as untrusted: counts are capped, every name is
/// read within a bounded length and must be UTF-8 without control characters, or the answer is refused.
/// </summary>
internal sealed partial class RbdImageHandle : IDisposable
{
    private const string Library = "librbd.so.1";
    private const int OutOfRange = -34; // -ERANGE: the buffer is too small; librbd says how large it must be
    /// <summary>Far more than the snapshots RBD lets one image keep (rbd_max_snap_count is 510 by default) or any watcher count.</summary>
    internal const int MaxEntries = 4096;
    internal const int MaxNameBytes = 4096;
    private const int EntryBytes = 24; // rbd_snap_info_t {u64 id; u64 size; char *name}, rbd_image_watcher_t {char *addr; i64 id; u64 cookie}

    private readonly RadosConnection connection;
    private nint image;

    private RbdImageHandle(RadosConnection connection) => this.connection = connection;

    /// <summary>Opens <paramref name="imageName"/> of the pool: read-only (which registers no watch of its own) or for writing.</summary>
    public static RbdImageHandle Open(CephPoolSettings settings, string imageName, bool readOnly)
    {
        var connection = RadosConnection.Open(settings);
        var handle = new RbdImageHandle(connection);
        try
        {
            Check(readOnly
                ? rbd_open_read_only(connection.IoContext, imageName, out handle.image, null)
                : rbd_open(connection.IoContext, imageName, out handle.image, null), $"open image {imageName}");
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>The names of the image's (user) snapshots.</summary>
    public IReadOnlyList<string> SnapshotNames()
    {
        var capacity = 64;
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var buffer = Marshal.AllocHGlobal(capacity * EntryBytes);
            try
            {
                var max = capacity;
                var result = rbd_snap_list(image, buffer, ref max);
                if (result == OutOfRange)
                {
                    capacity = Bounded(max, "snapshots");
                    continue;
                }
                Check(result, "list snapshots");
                try
                {
                    if (result >= capacity)
                        throw new IOException($"librbd reported {result} snapshots in room for {capacity - 1}");
                    return Enumerable.Range(0, result).Select(i => Name(Marshal.ReadIntPtr(buffer, i * EntryBytes + 16), "snapshot name")).ToList();
                }
                finally
                {
                    rbd_snap_list_end(buffer);
                }
            }
            finally
            {
                Marshal.FreeHGlobal(buffer);
            }
        }
        throw new IOException("librbd kept reporting more snapshots than it listed");
    }

    /// <summary>The addresses of the clients watching the image's header: those that have it open for writing.</summary>
    public IReadOnlyList<string> WatcherAddresses()
    {
        var capacity = 16;
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var buffer = Marshal.AllocHGlobal(capacity * EntryBytes);
            try
            {
                var max = (nuint)capacity;
                var result = rbd_watchers_list(image, buffer, ref max);
                if (result == OutOfRange)
                {
                    capacity = Bounded(max > MaxEntries ? int.MaxValue : (int)max, "watchers");
                    continue;
                }
                Check(result, "list watchers");
                var count = (int)Math.Min(max, (nuint)capacity);
                try
                {
                    if (max > (nuint)capacity)
                        throw new IOException($"librbd reported {max} watchers in room for {capacity}");
                    return Enumerable.Range(0, count).Select(i => Name(Marshal.ReadIntPtr(buffer, i * EntryBytes), "watcher address")).ToList();
                }
                finally
                {
                    rbd_watchers_list_cleanup(buffer, (nuint)count);
                }
            }
            finally
            {
                Marshal.FreeHGlobal(buffer);
            }
        }
        throw new IOException("librbd kept reporting more watchers than it listed");
    }

    public void CreateSnapshot(string name) => Check(rbd_snap_create(image, name), $"create snapshot {name}");

    public void RemoveSnapshot(string name) => Check(rbd_snap_remove(image, name), $"remove snapshot {name}");

    public void Dispose()
    {
        if (image != 0)
            rbd_close(image);
        image = 0;
        connection.Dispose();
    }

    private static int Bounded(int wanted, string what) =>
        wanted is > 0 and < MaxEntries ? wanted + 1 : throw new IOException($"librbd asked for room for {wanted} {what} (at most {MaxEntries - 1} accepted)");

    /// <summary>A NUL-terminated string from librbd, read no further than <see cref="MaxNameBytes"/>.</summary>
    private static string Name(nint pointer, string what)
    {
        if (pointer == 0)
            throw new IOException($"librbd returned no {what}");
        var bytes = new List<byte>();
        for (var i = 0; ; i++)
        {
            if (i > MaxNameBytes)
                throw new IOException($"librbd returned a {what} longer than {MaxNameBytes} bytes");
            var b = Marshal.ReadByte(pointer, i);
            if (b == 0)
                break;
            bytes.Add(b);
        }
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes.ToArray());
        }
        catch (DecoderFallbackException)
        {
            throw new IOException($"librbd returned a {what} that is not UTF-8");
        }
        return text.Length > 0 && !text.Any(char.IsControl) ? text : throw new IOException($"librbd returned an empty {what} or one with control characters");
    }

    private static void Check(int result, string what)
    {
        if (result < 0)
            throw new IOException($"librbd could not {what}: error {-result}");
    }

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rbd_open(nint ioContext, string name, out nint image, string? snapshot);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rbd_open_read_only(nint ioContext, string name, out nint image, string? snapshot);

    [LibraryImport(Library)]
    private static partial int rbd_close(nint image);

    [LibraryImport(Library)]
    private static partial int rbd_snap_list(nint image, nint snapshots, ref int maxSnapshots);

    [LibraryImport(Library)]
    private static partial void rbd_snap_list_end(nint snapshots);

    [LibraryImport(Library)]
    private static partial int rbd_watchers_list(nint image, nint watchers, ref nuint maxWatchers);

    [LibraryImport(Library)]
    private static partial void rbd_watchers_list_cleanup(nint watchers, nuint count);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rbd_snap_create(nint image, string name);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rbd_snap_remove(nint image, string name);
}
