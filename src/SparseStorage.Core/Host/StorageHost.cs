namespace SparseStorage.Core.Host;

/// <summary>A tool the module may call: where it is and which version.</summary>
public sealed record ToolInfo(string Name, string Package, string? Path, string? Version)
{
    public bool IsInstalled => Path is not null;
}

/// <summary>What this host can do for the module.</summary>
public sealed class StorageHost
{
    public required string HostName { get; init; }
    public required string KernelVersion { get; init; }
    public bool IsRoot { get; init; }
    public IReadOnlyList<string> KernelFileSystems { get; init; } = [];
    public IReadOnlyList<ToolInfo> Tools { get; init; } = [];
    public HostFeatures Features { get; init; } = new();
    /// <summary>How encrypted volumes open here: DmCrypt (device-mapper and cryptsetup), Userspace (FUSE and qemu-storage-daemon).</summary>
    public IReadOnlyList<UnlockMethod> UnlockMethods { get; init; } = [];
    /// <summary>The container Protect-Volume makes of a raw volume here: Luks2 with device-mapper, else Luks1 (which also opens in userspace).</summary>
    public EncryptionContainer DefaultEncryption { get; init; }

    public override string ToString() => HostName;
}

/// <summary>Kernel features the module's backends rely on.</summary>
public sealed class HostFeatures
{
    public bool Loop { get; init; }
    public bool DeviceMapper { get; init; }
    public bool Fuse { get; init; }
    public bool AoeDriver { get; init; }
    /// <summary>The kernel's rbd module (rbd device map); without it Ceph volumes are reached through qemu's rbd driver.</summary>
    public bool RbdKernelModule { get; init; }
    /// <summary>qemu's rbd block driver (block-rbd.so, Debian package qemu-block-extra), through which Ceph volumes are exported.</summary>
    public bool QemuRbdDriver { get; init; }
    /// <summary>Pool name → whether the pool's filesystem supports reflink copies (xfs with reflink, btrfs).</summary>
    public IReadOnlyDictionary<string, bool> Reflink { get; init; } = new Dictionary<string, bool>();
}
