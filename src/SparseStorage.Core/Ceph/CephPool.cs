using SparseStorage.Core.Encryption;
using SparseStorage.Core.Formats;
using SparseStorage.Core.Host;
using SparseStorage.Core.Pools;
using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Ceph;

/// <summary>
/// A registered Ceph pool read through the rbd and ceph tools: its accounting and its images as volumes. A listing
/// costs the same few processes for any number of images (rbd ls --long, rbd du) plus two in-process librados calls
/// per image: its first object for the filesystem, the lockers of its mount lock for the host that has it mounted.
/// </summary>
public sealed class CephPool(IProcessRunner runner, PoolDefinition definition)
{
    public CephPoolSettings Settings { get; } = definition.Ceph
        ?? throw new InvalidOperationException($"Pool '{definition.Name}' is not a Ceph pool.");

    public CephTools Tools => new(Settings);

    /// <summary>The pool's accounting: ceph df, and the listing (<paramref name="images"/> when the caller has just read it).</summary>
    public StoragePool Describe(IReadOnlyList<RbdImage>? images = null, CancellationToken cancellationToken = default)
    {
        var space = CephListing.PoolSpace(Run(Tools.ClusterUsage(), cancellationToken), Settings.Pool)
                    ?? throw new StorageObjectNotFoundException("CephPoolNotFound",
                        $"The cluster of {Settings.ConfigPath} has no pool '{Settings.Pool}' (ceph df does not list it); pool '{definition.Name}' cannot be used.", definition.Name);
        images ??= Images(cancellationToken);
        var provisioned = images.Sum(i => i.SizeBytes);
        var capacity = space.StoredBytes + space.MaxAvailableBytes;
        return new StoragePool
        {
            Name = definition.Name,
            Path = Settings.Location,
            Kind = PoolKind.CephRbd,
            HostFileSystem = "ceph",
            CapacityBytes = capacity,
            FreeBytes = space.MaxAvailableBytes,
            ProvisionedBytes = provisioned,
            AllocatedBytes = images.Sum(i => i.UsedBytes),
            OvercommitRatio = capacity > 0 ? Math.Round((double)provisioned / capacity, 3) : 0,
            MaxOvercommit = definition.MaxOvercommit,
            VolumeCount = images.Count,
        };
    }

    /// <summary>
    /// Every image of the pool (namespace) with size, used bytes, snapshot count and parent: two processes in all, run
    /// at the same time (each opens every image, so each takes time in proportion to their number).
    /// </summary>
    public IReadOnlyList<RbdImage> Images(CancellationToken cancellationToken = default)
    {
        var listing = Task.Run(() => Run(Tools.ListImages(), cancellationToken), cancellationToken);
        var usage = Run(Tools.DiskUsage(), cancellationToken);
        return CephListing.Images(listing.GetAwaiter().GetResult(), usage);
    }

    /// <summary>
    /// The images as volumes, each with the filesystem read from its first object, the host holding its mount lock,
    /// and how this host uses it (<paramref name="attachments"/>).
    /// </summary>
    public IEnumerable<SparseVolume> Volumes(IReadOnlyList<RbdImage> images, AttachmentState? attachments = null)
    {
        var heads = RadosHeads.Read(Settings, images);
        return images.Select(i => ToVolume(i, heads.GetValueOrDefault(i.Name), attachments?.Of(Settings.ImagePath(i.Name)) ?? VolumeAttachment.Detached));
    }

    /// <summary>One image as a volume; <see cref="VolumeNotFoundException"/> when the pool has no such image.</summary>
    public SparseVolume Volume(string image, CancellationToken cancellationToken = default, AttachmentState? attachments = null) =>
        Volumes([Image(image, cancellationToken)], attachments).Single();

    /// <summary>
    /// One image, read by two processes whatever the pool's size (rbd info and rbd du of that image; a pool's
    /// rbd du opens every image); <see cref="VolumeNotFoundException"/> when the pool has no such image.
    /// </summary>
    public RbdImage Image(string image, CancellationToken cancellationToken = default)
    {
        try
        {
            return CephListing.Image(Run(Tools.ImageInfo(image), cancellationToken), Run(Tools.DiskUsage(image), cancellationToken));
        }
        catch (ToolFailedException) when (!CephListing.Names(Run(Tools.ListNames(), cancellationToken)).Contains(image))
        {
            throw new VolumeNotFoundException($"No image '{image}' in Ceph pool '{definition.Name}' ({Settings.Location}).", Settings.ImagePath(image));
        }
    }

    /// <summary>The LUKS header at the start of an image, or null when the image is not encrypted.</summary>
    public LuksHeader? LuksHeaderOf(string image, CancellationToken cancellationToken = default) =>
        RadosHeads.Read(Settings, [Image(image, cancellationToken)]).GetValueOrDefault(image)?.Luks;

    private SparseVolume ToVolume(RbdImage image, RadosImageHead? head, VolumeAttachment attachment)
    {
        var luks = head?.Luks;
        var plaintext = luks is null ? null : attachment.PlaintextPath;
        var signature = plaintext is not null ? PlaintextSignature(plaintext) : head?.FileSystem;
        return new SparseVolume
        {
            Name = image.Name,
            Path = Settings.ImagePath(image.Name),
            Pool = definition.Name,
            Format = luks is null ? VolumeFormat.Raw : VolumeFormat.Luks,
            SizeBytes = luks is null ? image.SizeBytes : Math.Max(0, image.SizeBytes - luks.PayloadOffset),
            AllocatedBytes = image.UsedBytes,
            FileSystem = signature?.Type ?? FileSystemType.Unknown,
            FileSystemSizeBytes = signature?.SizeBytes ?? 0,
            Label = signature?.Label,
            Encryption = luks is null ? "None" : ContainerHeader.OfRawLuks(luks).Describe(),
            KeySlotCount = luks?.ActiveKeySlots ?? 0,
            IsUnlocked = plaintext is not null,
            SnapshotCount = image.SnapshotCount,
            BackingFile = image.Parent,
            LoopDevice = attachment.LoopDevice,
            MountPoint = attachment.MountPoints.FirstOrDefault(),
            MountedOn = head?.MountedOn,
            IsAttached = attachment.IsAttached,
            IsMounted = attachment.IsMounted,
            IsReadOnly = attachment.ReadOnly,
            IsBroken = attachment.FuseExport is { IsDaemonAlive: false },
            BrokenReason = attachment.FuseExport is { IsDaemonAlive: false } ? "its qemu-storage-daemon is gone; dismount it" : null,
        };
    }

    /// <summary>The filesystem of an unlocked image, read through its plaintext export; Unknown when that cannot be read.</summary>
    private static FileSystemSignature? PlaintextSignature(string plaintext)
    {
        try
        {
            using var view = Native.Libc.Open(plaintext, Native.Libc.O_RDONLY | Native.Libc.O_CLOEXEC, 0);
            var buffer = new byte[FileSystemSignature.ProbeLength];
            var read = RandomAccess.Read(view, buffer, 0);
            Array.Clear(buffer, read, buffer.Length - read);
            return FileSystemSignature.Detect(buffer);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            return null;
        }
    }

    private string Run(ToolCommand command, CancellationToken cancellationToken) =>
        runner.RunChecked(command, cancellationToken).StandardOutput;
}
