using System.Collections;
using System.Management.Automation;

namespace SparseStorage.PowerShell.Formatting;

/// <summary>
/// What the default views show, as hidden members that SparseStorage.types.ps1xml adds to the output types
/// (CodeProperty IsHidden="true"). Computed here instead of by a script block per row and column, typed (a size is a
/// ByteSize, which prints itself as "1.5 GiB"), and, being hidden, left out of ConvertTo-Json, Select-Object * and
/// Format-List *. Each reads the object through PSObject, so a deserialized object (remoting, Import-Clixml), whose
/// type name gets the same members, shows the same; a live volume, the one listed by the thousand, is read directly.
/// </summary>
public static class DisplayMembers
{
    public static ByteSize Size(PSObject instance) =>
        instance.BaseObject is SparseVolume volume ? new(volume.SizeBytes) : Bytes(instance, "SizeBytes");

    public static ByteSize Allocated(PSObject instance) =>
        instance.BaseObject is SparseVolume volume ? new(volume.AllocatedBytes) : Bytes(instance, "AllocatedBytes");

    public static ByteSize Capacity(PSObject instance) => Bytes(instance, "CapacityBytes");
    public static ByteSize Free(PSObject instance) => Bytes(instance, "FreeBytes");
    public static ByteSize Provisioned(PSObject instance) => Bytes(instance, "ProvisionedBytes");
    public static ByteSize Stored(PSObject instance) => Bytes(instance, "StoredBytes");
    public static ByteSize Data(PSObject instance) => Bytes(instance, "DataBytes");
    public static ByteSize OldSize(PSObject instance) => Bytes(instance, "OldSizeBytes");
    public static ByteSize NewSize(PSObject instance) => Bytes(instance, "NewSizeBytes");
    public static ByteSize FileSystemSize(PSObject instance) => Bytes(instance, "FileSystemSizeBytes");
    public static ByteSize AllocatedBefore(PSObject instance) => Bytes(instance, "AllocatedBeforeBytes");
    public static ByteSize AllocatedAfter(PSObject instance) => Bytes(instance, "AllocatedAfterBytes");
    public static ByteSize Reclaimed(PSObject instance) => Bytes(instance, "ReclaimedBytes");

    /// <summary>Where a volume is in use: "(broken)", its mount point, its loop device, "(on HOST)" for a Ceph volume another host has mounted, or nothing.</summary>
    public static string AttachedAs(PSObject instance) => instance.BaseObject is SparseVolume volume
        ? AttachedAs(volume.IsBroken, volume.MountPoint, volume.LoopDevice, volume.MountedOn)
        : AttachedAs(Flag(instance, "IsBroken"), Text(instance, "MountPoint"), Text(instance, "LoopDevice"), Text(instance, "MountedOn"));

    /// <summary>"None", or the container and cipher with "(locked)" or "(unlocked)"; a broken volume's alone.</summary>
    public static string EncryptionStatus(PSObject instance) => instance.BaseObject is SparseVolume volume
        ? EncryptionStatus(volume.Encryption, volume.IsBroken, volume.IsUnlocked)
        : EncryptionStatus(Text(instance, "Encryption") ?? "", Flag(instance, "IsBroken"), Flag(instance, "IsUnlocked"));

    public static int FindingCount(PSObject instance) => Value(instance, "Findings") switch
    {
        null => 0,
        ICollection findings => findings.Count,
        IEnumerable findings and not string => findings.Cast<object>().Count(),
        _ => 1,
    };

    /// <summary>An AoE target's name, "e&lt;shelf&gt;.&lt;slot&gt;", as /dev/etherd/ names it.</summary>
    public static string Target(PSObject instance) => $"e{Value(instance, "Shelf")}.{Value(instance, "Slot")}";

    public static string Access(PSObject instance) => Flag(instance, "ReadOnly") ? "ReadOnly" : "ReadWrite";

    private static string AttachedAs(bool isBroken, string? mountPoint, string? loopDevice, string? mountedOn) =>
        isBroken ? "(broken)" : NullIfEmpty(mountPoint) ?? NullIfEmpty(loopDevice) ?? (NullIfEmpty(mountedOn) is { } host ? $"(on {host})" : "");

    private static string EncryptionStatus(string encryption, bool isBroken, bool isUnlocked) =>
        encryption == "None" || isBroken ? encryption : isUnlocked ? $"{encryption} (unlocked)" : $"{encryption} (locked)";

    private static string? NullIfEmpty(string? text) => string.IsNullOrEmpty(text) ? null : text;

    private static object? Value(PSObject instance, string property) =>
        instance.Properties[property]?.Value is var value && value is PSObject wrapped ? wrapped.BaseObject : value;

    private static ByteSize Bytes(PSObject instance, string property) =>
        new(LanguagePrimitives.ConvertTo<long>(Value(instance, property) ?? 0L));

    private static bool Flag(PSObject instance, string property) => LanguagePrimitives.IsTrue(Value(instance, property));

    private static string? Text(PSObject instance, string property) => NullIfEmpty(Value(instance, property)?.ToString());
}
