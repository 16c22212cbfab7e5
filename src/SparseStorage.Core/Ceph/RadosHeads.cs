using System.Runtime.InteropServices;
using SparseStorage.Core.Formats;

namespace SparseStorage.Core.Ceph;

/// <summary>What the first bytes of an image hold: a filesystem's signature, or the LUKS header of an encrypted image (<see cref="Luks"/>).</summary>
public sealed record RbdHead(FileSystemSignature Signature, LuksHeader? Luks);

/// <summary>
/// Reads the first bytes of many RBD images over one librados connection, in this process, so a listing learns each
/// image's filesystem without a process per image. An image's first 4 MiB (its default object size) live in the
/// object <c>rbd_data.&lt;id&gt;.0000000000000000</c>; an object never written does not exist and reads as zeros.
/// The key stays in the keyring file: librados is told its path, as the tools are.
/// </summary>
public static partial class RadosHeads
{
    private const string Library = "librados.so.2";
    private const int NoSuchObject = -2;

    /// <summary>
    /// The head of each image id: its filesystem signature, or the LUKS header of an encrypted image. Unknown for every
    /// image when librados is missing or the cluster does not answer, and for a clone whose first object still lives in
    /// its parent.
    /// </summary>
    public static IReadOnlyDictionary<string, RbdHead> Read(CephPoolSettings settings, IEnumerable<RbdImage> images)
    {
        var list = images.ToList();
        var unknown = new RbdHead(new FileSystemSignature(FileSystemType.Unknown, null, 0), null);
        if (list.Count == 0)
            return new Dictionary<string, RbdHead>();
        try
        {
            using var pool = Connection.Open(settings);
            var buffer = new byte[FileSystemSignature.ProbeLength];
            return list.ToDictionary(i => i.Id, i => pool.Head(i, buffer) ?? unknown);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or IOException)
        {
            return list.ToDictionary(i => i.Id, _ => unknown);
        }
    }

    /// <summary>
    /// One image's first <see cref="FileSystemSignature.ProbeLength"/> bytes (a never-written head as zeros), for the
    /// counts of its superblock; null when they cannot be read here (no librados, no answer, a clone's head in its parent).
    /// </summary>
    public static byte[]? ReadHead(CephPoolSettings settings, RbdImage image)
    {
        try
        {
            using var pool = Connection.Open(settings);
            var buffer = new byte[FileSystemSignature.ProbeLength];
            return pool.Read(image, buffer) ? buffer : null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or IOException)
        {
            return null;
        }
    }

    /// <summary>A librados connection to the pool (and namespace) of a Ceph pool's settings, keyring by file path.</summary>
    internal sealed class Connection : IDisposable
    {
        private nint cluster;
        private nint context;

        /// <summary>The pool's I/O context (rados_ioctx_t), which librbd takes as its rbd_ioctx_t.</summary>
        public nint IoContext => context;

        public static Connection Open(CephPoolSettings settings)
        {
            var connection = new Connection();
            try
            {
                Check(rados_create2(out connection.cluster, "ceph", settings.ClientName, 0), "create a cluster handle");
                Check(rados_conf_read_file(connection.cluster, settings.ConfigPath), $"read {settings.ConfigPath}");
                if (settings.Keyring is not null)
                    Check(rados_conf_set(connection.cluster, "keyring", settings.Keyring), "set the keyring");
                foreach (var timeout in new[] { "client_mount_timeout", "rados_mon_op_timeout", "rados_osd_op_timeout" })
                    Check(rados_conf_set(connection.cluster, timeout, "20"), $"set {timeout}");
                Check(rados_connect(connection.cluster), "connect");
                Check(rados_ioctx_create(connection.cluster, settings.Pool, out connection.context), $"open pool {settings.Pool}");
                if (settings.Namespace is not null)
                    rados_ioctx_set_namespace(connection.context, settings.Namespace);
                return connection;
            }
            catch
            {
                connection.Dispose();
                throw;
            }
        }

        /// <summary>The signature or LUKS header at the start of the image; null when it cannot be read.</summary>
        public RbdHead? Head(RbdImage image, byte[] buffer)
        {
            if (!Read(image, buffer))
                return null;
            try
            {
                return LuksHeader.HasMagic(buffer)
                    ? new RbdHead(new FileSystemSignature(FileSystemType.Unknown, null, 0), LuksHeader.Parse(buffer.AsSpan(0, LuksHeader.ReadSize), image.SizeBytes))
                    : new RbdHead(FileSystemSignature.Detect(buffer), null);
            }
            catch (InvalidDataException)
            {
                return null;
            }
        }

        /// <summary>Fills <paramref name="buffer"/> with the image's first bytes; false when they cannot be read.</summary>
        public bool Read(RbdImage image, byte[] buffer)
        {
            if (image.Id.Length == 0)
                return false;
            var read = rados_read(context, $"rbd_data.{image.Id}.0000000000000000", buffer, (nuint)buffer.Length, 0);
            if (read == NoSuchObject && image.Parent is null)
                read = 0; // never written: zeros
            if (read < 0)
                return false;
            // A short object is a head whose tail was never written: the rest reads as zeros.
            Array.Clear(buffer, read, buffer.Length - read);
            return true;
        }

        public void Dispose()
        {
            if (context != 0)
                rados_ioctx_destroy(context);
            if (cluster != 0)
                rados_shutdown(cluster);
            context = cluster = 0;
        }

        private static void Check(int result, string what)
        {
            if (result < 0)
                throw new IOException($"librados could not {what}: error {-result}");
        }
    }

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rados_create2(out nint cluster, string clusterName, string name, ulong flags);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rados_conf_read_file(nint cluster, string path);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rados_conf_set(nint cluster, string option, string value);

    [LibraryImport(Library)]
    private static partial int rados_connect(nint cluster);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rados_ioctx_create(nint cluster, string pool, out nint context);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    private static partial void rados_ioctx_set_namespace(nint context, string name);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rados_read(nint context, string objectId, byte[] buffer, nuint length, ulong offset);

    [LibraryImport(Library)]
    private static partial void rados_ioctx_destroy(nint context);

    [LibraryImport(Library)]
    private static partial void rados_shutdown(nint cluster);
}
