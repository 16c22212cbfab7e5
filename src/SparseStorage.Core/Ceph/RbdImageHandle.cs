using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;
using SparseStorage.Core.Backups;

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

    /// <summary>The longest extent a diff is read in one piece: RBD objects are at most 32 MiB (order 25), and librbd reports whole objects.</summary>
    internal const long MaxExtentBytes = 64L << 20;
    /// <summary>Extents read at once while a diff is written (rbd export-diff keeps 10 reads in flight).</summary>
    private const int ReadsInFlight = 8;

    private readonly RadosConnection connection;
    private readonly string name;
    private nint image;

    private RbdImageHandle(RadosConnection connection, string name) => (this.connection, this.name) = (connection, name);

    /// <summary>Whether librbd and librados can be loaded in this process.</summary>
    public static bool Available { get; } = NativeLibrary.TryLoad(Library, out _) && NativeLibrary.TryLoad("librados.so.2", out _);

    /// <summary>Opens <paramref name="imageName"/> of the pool: read-only (which registers no watch of its own) or for writing.</summary>
    public static RbdImageHandle Open(CephPoolSettings settings, string imageName, bool readOnly)
    {
        var connection = RadosConnection.Open(settings);
        var handle = new RbdImageHandle(connection, imageName);
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

    /// <summary>
    /// Writes what changed in the image from <paramref name="fromSnapshot"/> (or from nothing) to <paramref name="toSnapshot"/>
    /// as <c>rbd export-diff --whole-object</c> writes it (<see cref="RbdDiffWriter"/>), over this handle's connection:
    /// librbd lists the changed objects (from the object map where fast-diff is on, parents included) and they are read at
    /// the snapshot, several at once, and written in order. An object that reads as zeros, or no longer exists, is a zero
    /// record, as rbd makes it. Returns the bytes written.
    /// </summary>
    public long WriteDiff(string? fromSnapshot, string toSnapshot, Stream output, CancellationToken cancellationToken)
    {
        Check(rbd_open_read_only(connection.IoContext, name, out var snapshotImage, toSnapshot), $"open image {name} at snapshot {toSnapshot}");
        var reads = new Queue<(DiffExtent Extent, Task<byte[]?> Data)>();
        try
        {
            Check(rbd_get_size(snapshotImage, out var size), $"read the size of image {name} at snapshot {toSnapshot}");
            if (size > (ulong)RbdDiffReader.MaxImageBytes)
                throw new IOException($"librbd reported a size of {size} bytes for image {name}");
            var extents = ChangedExtents(snapshotImage, fromSnapshot, (long)size);
            var counting = new CountingStream(output);
            var writer = new RbdDiffWriter(counting);
            writer.Begin(fromSnapshot, toSnapshot, (long)size);
            var next = 0;
            while (next < extents.Count || reads.Count > 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                while (next < extents.Count && reads.Count < ReadsInFlight)
                {
                    var extent = extents[next++];
                    reads.Enqueue((extent, extent.Exists
                        // Each read blocks a thread on librbd: threads of their own, so the reads run at once from the start.
                        ? Task.Factory.StartNew<byte[]?>(() => ReadExtent(snapshotImage, extent), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default)
                        : Task.FromResult<byte[]?>(null)));
                }
                var (done, data) = reads.Dequeue();
                var bytes = data.GetAwaiter().GetResult();
                var read = bytes.AsSpan(0, bytes is null ? 0 : (int)done.Length);
                if (read.ContainsAnyExcept((byte)0))
                    writer.Data(done.Offset, read);
                else
                    writer.Zero(done.Offset, done.Length);
                if (bytes is not null)
                    ArrayPool<byte>.Shared.Return(bytes);
            }
            writer.End();
            return counting.Written;
        }
        finally
        {
            // Reads still running use the image: they end before it closes.
            foreach (var (_, data) in reads)
                ((IAsyncResult)data).AsyncWaitHandle.WaitOne();
            rbd_close(snapshotImage);
        }
    }

    private readonly record struct DiffExtent(long Offset, long Length, bool Exists);

    /// <summary>The extents librbd reports changed, checked to be inside the image, bounded, rising and apart.</summary>
    private List<DiffExtent> ChangedExtents(nint snapshotImage, string? fromSnapshot, long size)
    {
        var extents = new List<DiffExtent>();
        var invalid = (string?)null;
        DiffCallback callback = (offset, length, exists, _) =>
        {
            lock (extents)
            {
                if (offset > (ulong)size || length == 0 || (ulong)length > MaxExtentBytes || (ulong)length > (ulong)size - offset)
                {
                    invalid ??= $"an extent {offset}+{length} outside the image's {size} bytes or longer than {MaxExtentBytes}";
                    return -22;
                }
                extents.Add(new DiffExtent((long)offset, (long)length, exists != 0));
                return 0;
            }
        };
        var result = rbd_diff_iterate2(snapshotImage, fromSnapshot, 0, (ulong)size, 1, 1, Marshal.GetFunctionPointerForDelegate(callback), 0);
        GC.KeepAlive(callback);
        if (invalid is not null)
            throw new IOException($"librbd reported {invalid}");
        Check(result, $"list the changes of image {name}{(fromSnapshot is null ? "" : $" since snapshot {fromSnapshot}")}");
        extents.Sort((a, b) => a.Offset.CompareTo(b.Offset));
        for (var i = 1; i < extents.Count; i++)
            if (extents[i].Offset < extents[i - 1].Offset + extents[i - 1].Length)
                throw new IOException($"librbd reported overlapping changed extents at {extents[i - 1].Offset} and {extents[i].Offset}");
        return extents;
    }

    private byte[] ReadExtent(nint snapshotImage, DiffExtent extent)
    {
        var buffer = ArrayPool<byte>.Shared.Rent((int)extent.Length);
        for (var done = 0; done < extent.Length;)
        {
            var read = (long)rbd_read(snapshotImage, (ulong)(extent.Offset + done), (nuint)(extent.Length - done), ref buffer[done]);
            if (read < 0)
                throw new IOException($"librbd could not read image {name} at {extent.Offset + done}: error {-read}");
            if (read == 0)
                throw new IOException($"librbd read nothing from image {name} at {extent.Offset + done}, inside the image");
            done += (int)read;
        }
        return buffer;
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int DiffCallback(ulong offset, nuint length, int exists, nint argument);

    /// <summary>Passes writes on and counts them.</summary>
    private sealed class CountingStream(Stream inner) : Stream
    {
        public long Written { get; private set; }
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            inner.Write(buffer);
            Written += buffer.Length;
        }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
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
    private static partial int rbd_get_size(nint image, out ulong size);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rbd_diff_iterate2(nint image, string? fromSnapshot, ulong offset, ulong length, byte includeParent, byte wholeObject, nint callback, nint argument);

    [LibraryImport(Library)]
    private static partial nint rbd_read(nint image, ulong offset, nuint length, ref byte buffer);

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
