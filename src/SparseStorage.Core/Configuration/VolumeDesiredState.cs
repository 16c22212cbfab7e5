using System.Collections;
using SparseStorage.Core.Pools;

namespace SparseStorage.Core.Configuration;

/// <summary>
/// What the SparseVolume DSC resource was asked for. A null optional property (Format, FileSystem, Label, MountPoint)
/// is not managed: an existing volume is left as it is in that respect.
/// </summary>
public sealed record VolumeDesiredState
{
    public Ensure Ensure { get; init; } = Ensure.Present;
    public required string Name { get; init; }
    public required string Pool { get; init; }
    public ByteSize? Size { get; init; }
    public VolumeFormat? Format { get; init; }
    public FileSystemType? FileSystem { get; init; }
    public string? Label { get; init; }
    public string? MountPoint { get; init; }
    public bool Encrypted { get; init; }
    /// <summary>The file holding the key of an encrypted volume; only its path is ever handled here.</summary>
    public string? KeyFile { get; init; }
    public bool AllowShrink { get; init; }

    private const string Resource = "SparseVolume";

    /// <summary>Reads and validates the resource's properties (a PowerShell hashtable).</summary>
    public static VolumeDesiredState FromProperties(IDictionary properties)
    {
        var read = new ResourceProperties(properties);
        return new VolumeDesiredState
        {
            Ensure = read.Choice("Ensure", Ensure.Present, Ensure.Absent) ?? Ensure.Present,
            Name = read.RequiredText("Name", Resource),
            Pool = read.RequiredText("Pool", Resource),
            Size = read.Size("Size"),
            Format = read.Choice("Format", VolumeFormat.Raw, VolumeFormat.Qcow2),
            FileSystem = read.Choice("FileSystem", FileSystemType.None, FileSystemType.Ext2, FileSystemType.Ext3, FileSystemType.Ext4,
                FileSystemType.Xfs, FileSystemType.Btrfs, FileSystemType.Swap),
            Label = read.Text("Label"),
            MountPoint = read.Text("MountPoint"),
            Encrypted = read.Flag("Encrypted"),
            KeyFile = read.Text("KeyFile"),
            AllowShrink = read.Flag("AllowShrink"),
        }.Validated();
    }

    /// <summary>Throws an <see cref="InvalidStorageArgumentException"/> naming the first property that cannot work.</summary>
    public VolumeDesiredState Validated()
    {
        Names.RequireValid(Name, "Volume");
        Names.RequireValid(Pool, "Pool");
        if (Ensure == Ensure.Absent)
            return this;
        if (Size is null)
            throw Invalid("DesiredStatePropertyMissing", "Size is required when Ensure is Present (it is the size a missing volume is created with).");
        if (Encrypted && KeyFile is null)
            throw Invalid("KeyFileRequired", "Encrypted = $true needs KeyFile: DSC runs unattended and never prompts for a passphrase.");
        if (KeyFile is not null)
            ConfigurationPaths.RequireAbsolute(KeyFile, "KeyFile");
        if (MountPoint is not null)
            RequireMountable(ConfigurationPaths.RequireAbsolute(MountPoint, "MountPoint"));
        return this;
    }

    private void RequireMountable(string mountPoint)
    {
        if (FileSystem is FileSystemType.None or FileSystemType.Swap)
            throw Invalid("MountPointWithoutFileSystem", $"MountPoint '{mountPoint}' needs a filesystem to mount, and FileSystem is {FileSystem}.");
    }

    private InvalidStorageArgumentException Invalid(string errorId, string message) =>
        new(errorId, $"{Resource} '{Pool}/{Name}': {message}", Name);
}
