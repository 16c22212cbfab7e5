using System.Diagnostics;
using System.Runtime.InteropServices;
using SparseStorage.Core;
using SparseStorage.Core.Ceph;

namespace SparseStorage.Bench;

/// <summary>
/// A Ceph lab of the repository's tests/ceph/lab.sh (1 mon, 1 mgr, 3 OSDs, size-3 pool `rbd`) in the working
/// directory, registered as a pool of the bench's context as the limited client `sparse`; always taken down by
/// Dispose. Images for a benchmark are made in this process through librbd, so that setting up 1,000 of them does not
/// cost 1,000 processes; the benchmarks time only what a user would run.
/// </summary>
internal sealed partial class CephBenchLab : IDisposable
{
    private readonly string script;
    private bool up;

    public CephBenchLab(BenchEnvironment environment, string poolName, string rbdNamespace)
    {
        Directory = Path.Combine(environment.Root, "ceph-lab");
        script = LabScript();
        var clock = Stopwatch.StartNew();
        up = true;
        try
        {
            Lab("up");
            UpSeconds = clock.Elapsed.TotalSeconds;
            Admin("rbd", "namespace", "create", "--pool", "rbd", "--namespace", rbdNamespace);
            Settings = new CephPoolSettings(Path.Combine(Directory, "ceph.conf"), "rbd", "sparse", Path.Combine(Directory, "client.sparse.keyring"), rbdNamespace);
            var registration = new CephPoolRegistration(environment.Context);
            registration.Apply(registration.Plan(new RegisterCephPoolRequest(poolName, Settings)));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Directory { get; }
    public CephPoolSettings Settings { get; } = null!;
    public double UpSeconds { get; }
    public string AdminKeyring => Path.Combine(Directory, "client.admin.keyring");

    /// <summary>rbd or rados as client.admin in the bench's pool; arguments after the connection options.</summary>
    public string Admin(string tool, params string[] arguments) =>
        Shell.Run(tool, ["--conf", Path.Combine(Directory, "ceph.conf"), "--id", "admin", "--keyring", AdminKeyring, .. arguments]);

    /// <summary>The rbd command line of the limited client, as a user of the pool would type it (keyring file, pool, namespace).</summary>
    public string[] ClientRbd(params string[] arguments) =>
        ["--conf", Settings.ConfigPath, "--id", Settings.User, "--keyring", Settings.Keyring!, .. arguments, "--pool", Settings.Pool, "--namespace", Settings.Namespace!];

    /// <summary>
    /// Creates <paramref name="count"/> thin images of <paramref name="sizeBytes"/> over one librados connection; every
    /// image whose index <paramref name="writeHead"/> selects gets <paramref name="head"/> at its start, and every one
    /// <paramref name="lockHolder"/> names a holder for gets this module's mount lock (as a host that mounted it would).
    /// </summary>
    public void CreateImages(IReadOnlyList<string> names, long sizeBytes, byte[] head, Func<int, bool> writeHead, Func<int, string?> lockHolder)
    {
        Check(rados_create2(out var cluster, "ceph", "client.admin", 0), "rados_create2");
        try
        {
            Check(rados_conf_read_file(cluster, Settings.ConfigPath), "read the configuration");
            Check(rados_conf_set(cluster, "keyring", AdminKeyring), "set the keyring");
            Check(rados_connect(cluster), "connect");
            Check(rados_ioctx_create(cluster, Settings.Pool, out var context), "open the pool");
            try
            {
                rados_ioctx_set_namespace(context, Settings.Namespace!);
                for (var i = 0; i < names.Count; i++)
                {
                    var order = 0;
                    Check(rbd_create(context, names[i], (ulong)sizeBytes, ref order), $"create {names[i]}");
                    if (writeHead(i))
                        WriteHead(context, names[i], head);
                    if (lockHolder(i) is { } holder)
                        Check(rados_lock_exclusive(context, RbdMountLock.ObjectOf(names[i]), RbdMountLock.LockName, RbdMountLock.CookieFor(holder),
                            RbdMountLock.DescriptionFor(holder), 0, 0), $"lock {names[i]}");
                }
            }
            finally
            {
                rados_ioctx_destroy(context);
            }
        }
        finally
        {
            rados_shutdown(cluster);
        }
    }

    private static void WriteHead(nint context, string name, byte[] head)
    {
        Check(rbd_open(context, name, out var image, null), $"open {name}");
        try
        {
            var written = (long)rbd_write(image, 0, (nuint)head.Length, head);
            if (written != head.Length)
                throw new InvalidOperationException($"librbd wrote {written} of {head.Length} bytes to {name}");
        }
        finally
        {
            rbd_close(image);
        }
    }

    public void Dispose()
    {
        if (!up)
            return;
        up = false;
        Lab("down");
    }

    private void Lab(string verb) => Shell.Run("bash", script, verb, Directory);

    private static string LabScript()
    {
        for (var directory = new DirectoryInfo(Environment.CurrentDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "tests", "ceph", "lab.sh");
            if (File.Exists(candidate))
                return candidate;
        }
        throw new FileNotFoundException("tests/ceph/lab.sh not found above the current directory; run bench/run.sh from the repository");
    }

    private static void Check(int result, string what)
    {
        if (result < 0)
            throw new IOException($"librados/librbd could not {what}: error {-result}");
    }

    [LibraryImport("librados.so.2", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rados_create2(out nint cluster, string clusterName, string name, ulong flags);

    [LibraryImport("librados.so.2", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rados_conf_read_file(nint cluster, string path);

    [LibraryImport("librados.so.2", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rados_conf_set(nint cluster, string option, string value);

    [LibraryImport("librados.so.2")]
    private static partial int rados_connect(nint cluster);

    [LibraryImport("librados.so.2", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rados_ioctx_create(nint cluster, string pool, out nint context);

    [LibraryImport("librados.so.2", StringMarshalling = StringMarshalling.Utf8)]
    private static partial void rados_ioctx_set_namespace(nint context, string name);

    [LibraryImport("librados.so.2", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rados_lock_exclusive(nint context, string objectId, string name, string cookie, string description, nint duration, byte flags);

    [LibraryImport("librados.so.2")]
    private static partial void rados_ioctx_destroy(nint context);

    [LibraryImport("librados.so.2")]
    private static partial void rados_shutdown(nint cluster);

    [LibraryImport("librbd.so.1", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rbd_create(nint context, string name, ulong size, ref int order);

    [LibraryImport("librbd.so.1", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rbd_open(nint context, string name, out nint image, string? snapshot);

    [LibraryImport("librbd.so.1")]
    private static partial nint rbd_write(nint image, ulong offset, nuint length, byte[] buffer);

    [LibraryImport("librbd.so.1")]
    private static partial int rbd_close(nint image);
}
