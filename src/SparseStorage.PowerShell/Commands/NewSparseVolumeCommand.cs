using System.Management.Automation;
using SparseStorage.Core.Volumes;
using SparseStorage.PowerShell.Completers;

namespace SparseStorage.PowerShell.Commands;

/// <summary>New-SparseVolume: creates a raw or qcow2 volume, thin or preallocated, optionally with a filesystem.</summary>
[Cmdlet(VerbsCommon.New, "SparseVolume", DefaultParameterSetName = NameSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(SparseVolume))]
public sealed class NewSparseVolumeCommand : SparseStorageCmdlet
{
    private const string NameSet = "Name";
    private const string PathSet = "Path";

    /// <summary>The new volume's name; the file is &lt;pool&gt;/&lt;name&gt;.img (raw) or .qcow2.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = NameSet, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = "";

    /// <summary>The pool to create it in; may be omitted when exactly one pool is registered.</summary>
    [Parameter(ParameterSetName = NameSet, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(PoolNameCompleter))]
    public string? Pool { get; set; }

    /// <summary>The image file to create, inside a registered pool.</summary>
    [Parameter(Mandatory = true, ParameterSetName = PathSet)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>The virtual size: 10GB, '10GiB', '1.5T', '512M' or bytes (binary units). Rounded up to whole 512-byte sectors.</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [ByteSizeTransformation]
    public ByteSize Size { get; set; }

    /// <summary>Raw (default) or Qcow2.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateSet("Raw", "Qcow2")]
    public VolumeFormat Format { get; set; } = VolumeFormat.Raw;

    /// <summary>Sparse (default: space is taken when written) or Full (all space reserved now).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public Preallocation Preallocation { get; set; } = Preallocation.Sparse;

    /// <summary>The filesystem to make: None (default), Ext2, Ext3, Ext4, Xfs, Btrfs or Swap.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateSet("None", "Ext2", "Ext3", "Ext4", "Xfs", "Btrfs", "Swap")]
    public FileSystemType FileSystem { get; set; } = FileSystemType.None;

    /// <summary>The filesystem label (ext: 16 bytes, xfs: 12, btrfs: 255, swap: 16).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string? Label { get; set; }

    /// <summary>Replace an existing volume file of the same name (never one that is in use, a base image or one with snapshots).</summary>
    [Parameter]
    public SwitchParameter Replace { get; set; }

    /// <summary>Do not ask for confirmation (-WhatIf still only reports).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord() =>
        Invoke(() =>
        {
            var request = new NewVolumeRequest
            {
                Name = ParameterSetName == NameSet ? Name : null,
                Pool = Pool,
                Path = ParameterSetName == PathSet ? ProviderPath(Path) : null,
                Size = Size,
                Format = Format,
                Preallocation = Preallocation,
                FileSystem = FileSystem,
                Label = Label,
                Replace = Replace,
            };
            if (PlanAndApply(new VolumeCreationService(Context), request) is { } created)
                WriteObject(created);
        }, ParameterSetName == NameSet ? Name : Path);
}
