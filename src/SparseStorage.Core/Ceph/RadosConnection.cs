using System.Runtime.InteropServices;

namespace SparseStorage.Core.Ceph;

/// <summary>
/// One librados connection to a pool (and namespace), in this process: reads objects, lists an object's lockers and
/// tells whether an object exists, so that questions about many images cost no process each. librados lets several
/// threads use one I/O context at once; these calls keep no state of their own, so they may run in parallel. The key stays in the
/// keyring file: librados is told its path, as the tools are. Failures are <see cref="IOException"/>s carrying
/// librados' error number; a missing librados is a <see cref="DllNotFoundException"/>.
/// </summary>
internal sealed partial class RadosConnection : IDisposable
{
    private const string Library = "librados.so.2";
    public const int NoSuchObject = -2;
    private const int BufferTooShort = -34;
    private const int LockerBufferStart = 1024;

    /// <summary>The most a lockers buffer may grow to when librados asks for more (an exclusive lock needs a few hundred bytes).</summary>
    private const int LockerBufferLimit = 64 * 1024;

    private nint cluster;
    private nint context;

    /// <summary>The pool's I/O context (rados_ioctx_t), which librbd takes as its rbd_ioctx_t.</summary>
    public nint IoContext => context;

    public static RadosConnection Open(CephPoolSettings settings)
    {
        var connection = new RadosConnection();
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

    /// <summary>Reads up to <paramref name="buffer"/>'s length from the start of an object: the bytes read, or a negative error (<see cref="NoSuchObject"/>).</summary>
    public int Read(string objectId, byte[] buffer) => rados_read(context, objectId, buffer, (nuint)buffer.Length, 0);

    /// <summary>Whether the object exists.</summary>
    public bool Exists(string objectId)
    {
        var result = rados_stat(context, objectId, out _, out _);
        if (result == NoSuchObject)
            return false;
        Check(result, $"stat {objectId}");
        return true;
    }

    /// <summary>
    /// The holders of lock <paramref name="lockName"/> on an object; none when the object does not exist. The buffers
    /// start small and grow once to what librados asks for, never past <see cref="LockerBufferLimit"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">What the cluster returned is not a list of lockers this module accepts.</exception>
    public IReadOnlyList<RadosLocker> Lockers(string objectId, string lockName)
    {
        byte[] tag = new byte[LockerBufferStart], clients = new byte[LockerBufferStart], cookies = new byte[LockerBufferStart], addresses = new byte[LockerBufferStart];
        for (var attempt = 0; ; attempt++)
        {
            nuint tagLength = (nuint)tag.Length, clientsLength = (nuint)clients.Length, cookiesLength = (nuint)cookies.Length, addressesLength = (nuint)addresses.Length;
            var count = (long)rados_list_lockers(context, objectId, lockName, out _, tag, ref tagLength, clients, ref clientsLength,
                cookies, ref cookiesLength, addresses, ref addressesLength);
            if (count == NoSuchObject)
                return [];
            if (count == BufferTooShort && attempt == 0)
            {
                tag = Larger(tag, tagLength);
                clients = Larger(clients, clientsLength);
                cookies = Larger(cookies, cookiesLength);
                addresses = Larger(addresses, addressesLength);
                continue;
            }
            if (count < 0)
                throw new IOException($"librados could not list the lockers of {objectId}: error {-count}");
            return RadosLockers.Parse(count, Used(clients, clientsLength), Used(cookies, cookiesLength), Used(addresses, addressesLength));
        }
    }

    private static byte[] Larger(byte[] buffer, nuint wanted) =>
        wanted <= (nuint)buffer.Length ? buffer
        : wanted <= LockerBufferLimit ? new byte[(int)wanted]
        : throw new InvalidDataException($"rados_list_lockers wants a {wanted}-byte buffer; more than {LockerBufferLimit} bytes is no mount lock.");

    private static ReadOnlySpan<byte> Used(byte[] buffer, nuint length) => buffer.AsSpan(0, (int)Math.Min(length, (nuint)buffer.Length));

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

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rados_stat(nint context, string objectId, out ulong size, out long modified);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint rados_list_lockers(nint context, string objectId, string lockName, out int exclusive,
        byte[] tag, ref nuint tagLength, byte[] clients, ref nuint clientsLength, byte[] cookies, ref nuint cookiesLength,
        byte[] addresses, ref nuint addressesLength);

    [LibraryImport(Library)]
    private static partial void rados_ioctx_destroy(nint context);

    [LibraryImport(Library)]
    private static partial void rados_shutdown(nint cluster);
}
