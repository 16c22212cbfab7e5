using SparseStorage.Core.Formats;

namespace SparseStorage.Core.Ceph;

/// <summary>What one pass over a pool's images learns of each: what its start holds, and the host holding its mount lock.</summary>
/// <param name="FileSystem">The signature at the image's start; null when it cannot be read.</param>
/// <param name="Luks">The LUKS header at the image's start of an encrypted image; null for any other.</param>
/// <param name="MountedOn">The host holding the image's mount lock (a read-write mount), or null.</param>
public sealed record RadosImageHead(FileSystemSignature? FileSystem, LuksHeader? Luks, string? MountedOn);

/// <summary>
/// Reads the first bytes of many RBD images, and the lockers of their mount-lock objects, over one librados
/// connection in this process, so a listing learns each image's filesystem and which host has it mounted without a
/// process per image. An image's first 4 MiB (its default object size) live in the object
/// <c>rbd_data.&lt;id&gt;.0000000000000000</c>; an object never written does not exist and reads as zeros. The mount
/// lock lives on <see cref="RbdMountLock.ObjectOf"/>, its holder named by the lock's cookie.
/// </summary>
public static class RadosHeads
{
    private const int ParallelReads = 8;

    /// <summary>
    /// Each image's head, by image name; for every image a head of unknown filesystem and no holder when librados is
    /// missing or the cluster does not answer, and an unknown filesystem for a clone whose first object still lives
    /// in its parent.
    /// </summary>
    public static IReadOnlyDictionary<string, RadosImageHead> Read(CephPoolSettings settings, IEnumerable<RbdImage> images)
    {
        var list = images.ToList();
        if (list.Count == 0)
            return new Dictionary<string, RadosImageHead>();
        try
        {
            using var pool = RadosConnection.Open(settings);
            // Each image costs two round trips to the OSDs; a few in flight at once hide most of their latency.
            var heads = new RadosImageHead[list.Count];
            Parallel.For(0, list.Count, new ParallelOptions { MaxDegreeOfParallelism = ParallelReads },
                () => new byte[FileSystemSignature.ProbeLength],
                (i, _, buffer) =>
                {
                    heads[i] = Head(pool, list[i], buffer) with { MountedOn = MountedOn(pool, list[i].Name) };
                    return buffer;
                },
                _ => { });
            return list.Select((image, i) => (image.Name, Head: heads[i])).ToDictionary(h => h.Name, h => h.Head);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or IOException)
        {
            var unknown = new RadosImageHead(new FileSystemSignature(FileSystemType.Unknown, null, 0), null, null);
            return list.ToDictionary(i => i.Name, _ => unknown);
        }
    }

    /// <summary>The image's mount lock as it is now: whether its object exists, and who holds it.</summary>
    /// <exception cref="StorageOperationException">librados is missing or the cluster does not answer.</exception>
    public static MountLockState MountLock(CephPoolSettings settings, string image)
    {
        try
        {
            using var pool = RadosConnection.Open(settings);
            var objectId = RbdMountLock.ObjectOf(image);
            return new MountLockState(pool.Exists(objectId), pool.Lockers(objectId, RbdMountLock.LockName));
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or IOException or InvalidDataException)
        {
            throw new StorageOperationException("CephLockUnreadable", $"The mount lock of '{image}' in {settings.Location} cannot be read: {e.Message}", image, e);
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
            using var pool = RadosConnection.Open(settings);
            var buffer = new byte[FileSystemSignature.ProbeLength];
            return ReadFirstObject(pool, image, buffer) ? buffer : null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or IOException)
        {
            return null;
        }
    }

    /// <summary>The signature or LUKS header at the start of the image; an unknown filesystem when it cannot be read.</summary>
    private static RadosImageHead Head(RadosConnection pool, RbdImage image, byte[] buffer)
    {
        if (!ReadFirstObject(pool, image, buffer))
            return new RadosImageHead(null, null, null);
        try
        {
            return LuksHeader.HasMagic(buffer)
                ? new RadosImageHead(new FileSystemSignature(FileSystemType.Unknown, null, 0), LuksHeader.Parse(buffer.AsSpan(0, LuksHeader.ReadSize), image.SizeBytes), null)
                : new RadosImageHead(FileSystemSignature.Detect(buffer), null, null);
        }
        catch (InvalidDataException)
        {
            return new RadosImageHead(null, null, null);
        }
    }

    /// <summary>Fills <paramref name="buffer"/> with the image's first bytes; false when they cannot be read.</summary>
    private static bool ReadFirstObject(RadosConnection pool, RbdImage image, byte[] buffer)
    {
        if (image.Id.Length == 0)
            return false;
        var read = pool.Read($"rbd_data.{image.Id}.0000000000000000", buffer);
        if (read == RadosConnection.NoSuchObject && image.Parent is null)
            read = 0; // never written: zeros
        if (read < 0)
            return false;
        // A short object is a head whose tail was never written: the rest reads as zeros.
        Array.Clear(buffer, read, buffer.Length - read);
        return true;
    }

    /// <summary>The holder of the image's mount lock; null when nobody holds it or its lockers cannot be read.</summary>
    private static string? MountedOn(RadosConnection pool, string image)
    {
        try
        {
            return pool.Lockers(RbdMountLock.ObjectOf(image), RbdMountLock.LockName) is [var first, ..] ? first.Holder : null;
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            return null;
        }
    }
}

/// <summary>An image's mount-lock object: whether it exists (a mount made it; only removing the volume deletes it), and its holders.</summary>
public sealed record MountLockState(bool ObjectExists, IReadOnlyList<RadosLocker> Lockers);
