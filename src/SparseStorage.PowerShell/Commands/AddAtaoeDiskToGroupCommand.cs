using System.Management.Automation;
using SparseStorage.Core.Aoe;

namespace SparseStorage.PowerShell.Commands;

/// <summary>
/// Add-AtaoeDiskToGroup: on a supervisor with the aoe driver and LVM, makes discovered AoE targets physical volumes of
/// a volume group (created or extended), and creates or grows a logical volume and its filesystem online.
/// </summary>
[Cmdlet(VerbsCommon.Add, "AtaoeDiskToGroup", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(AtaoeGroupUpdate))]
public sealed class AddAtaoeDiskToGroupCommand : SparseStorageCmdlet
{
    private readonly List<AtaoeTarget> targets = [];

    /// <summary>Targets from Find-AtaoeDisk, also deserialized from a remote session.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    public PSObject[] InputObject { get; set; } = [];

    /// <summary>The volume group: created from the targets, or extended by them.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string VolumeGroup { get; set; } = "";

    /// <summary>A logical volume over the group's free space: created when missing, grown with -Grow.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? LogicalVolume { get; set; }

    /// <summary>Extend the logical volume into the new space and grow its filesystem online.</summary>
    [Parameter]
    public SwitchParameter Grow { get; set; }

    /// <summary>The filesystem of a new logical volume (default Ext4; None for none).</summary>
    [Parameter]
    public FileSystemType FileSystem { get; set; } = FileSystemType.Ext4;

    protected override void ProcessRecord() =>
        Invoke(() => targets.AddRange(InputObject.Select(ToTarget)), VolumeGroup);

    /// <summary>A target from Find-AtaoeDisk, live or deserialized from a remote session (rebuilt from what the plan uses).</summary>
    private static AtaoeTarget ToTarget(PSObject input)
    {
        if (input.BaseObject is AtaoeTarget live)
            return live;
        PipelineInput.Require<AtaoeTarget>(input, "Find-AtaoeDisk");
        return new AtaoeTarget
        {
            Shelf = PipelineInput.Property<int>(input, nameof(AtaoeTarget.Shelf)),
            Slot = PipelineInput.Property<int>(input, nameof(AtaoeTarget.Slot)),
            Interface = PipelineInput.Property<string>(input, nameof(AtaoeTarget.Interface)),
            MacAddress = PipelineInput.Property<string>(input, nameof(AtaoeTarget.MacAddress)),
            Sectors = PipelineInput.Property<long>(input, nameof(AtaoeTarget.Sectors)),
        };
    }

    protected override void EndProcessing()
    {
        // Every piped object was refused (and reported): there is nothing to add, and the host need not be able to.
        if (targets.Count == 0)
            return;
        Invoke(() =>
        {
            var service = new AtaoeGroupService(Context);
            var plan = service.Plan(new AtaoeGroupRequest
            {
                Targets = targets, VolumeGroup = VolumeGroup, LogicalVolume = LogicalVolume, Grow = Grow, FileSystem = FileSystem,
            }, Cancellation);
            if (ShouldApply(plan))
                WriteObject(RunWithProgress((progress, cancellation) => service.Apply(plan, progress, cancellation)));
        }, VolumeGroup);
    }
}
