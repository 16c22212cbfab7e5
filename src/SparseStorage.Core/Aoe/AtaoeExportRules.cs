namespace SparseStorage.Core.Aoe;

/// <summary>What may be exported, and how: addresses in range, well-formed MAC lists, volumes nobody else writes.</summary>
public static class AtaoeExportRules
{
    /// <summary>Checks shelf, slot and the MAC list; returns the MACs in the form vblade's -m takes.</summary>
    public static IReadOnlyList<string> RequireValid(AtaoeExportRequest request)
    {
        if (request.Shelf is < 0 or > AoeProtocol.MaxShelf)
            throw new InvalidStorageArgumentException("AoeShelfOutOfRange",
                $"Shelf {request.Shelf} is out of range: AoE shelves run from 0 to {AoeProtocol.MaxShelf} (65535 is the broadcast address).", request.Shelf);
        if (request.Slot is < 0 or > AoeProtocol.MaxSlot)
            throw new InvalidStorageArgumentException("AoeSlotOutOfRange",
                $"Slot {request.Slot} is out of range: AoE slots run from 0 to {AoeProtocol.MaxSlot} (255 is the broadcast address).", request.Slot);
        if (request.MacAllow.Count > AtaoeExportRequest.MaxMacAllow)
            throw new InvalidStorageArgumentException("TooManyMacAddresses",
                $"-MacAllow takes at most {AtaoeExportRequest.MaxMacAllow} addresses (vblade's limit); {request.MacAllow.Count} were given.", request.MacAllow.Count);
        return request.MacAllow.Select(m => MacAddress.Parse(m).ToString()).Distinct().ToList();
    }

    /// <summary>Refuses what vblade cannot serve correctly: encrypted or qcow2 images, and volumes this host is using.</summary>
    public static void RequireExportable(SparseVolume volume, bool readOnly)
    {
        if (volume.Encryption != "None")
            throw new StorageOperationException("VolumeEncrypted",
                volume.IsUnlocked
                    ? $"Volume '{volume.Name}' is encrypted ({volume.Encryption}) and unlocked on this host, which is already using its plaintext; exporting an encrypted volume's plaintext is not supported yet."
                    : $"Volume '{volume.Name}' is encrypted ({volume.Encryption}) and locked: vblade would serve its ciphertext.", volume.Path);
        if (volume.Format != VolumeFormat.Raw)
            throw new StorageOperationException("VolumeFormatNotExportable",
                $"Volume '{volume.Name}' is {volume.Format}: vblade serves a file's bytes as they are, so only raw volumes can be exported. Copy it to a raw volume first.", volume.Path);
        if (readOnly || !volume.IsAttached && !volume.IsMounted)
            return;
        var where = volume.IsMounted ? $"mounted at {volume.MountPoint}" : $"attached to {volume.LoopDevice}";
        throw new VolumeInUseException(
            $"Volume '{volume.Name}' is {where} on this host; a writable export would let another host write under its filesystem and corrupt it. Dismount it, or export it with -ReadOnly.",
            volume.Path);
    }

    /// <summary>One volume, two writable targets (or a writable and a read-only one) is two writers on one filesystem.</summary>
    /// <param name="servedFile">The file vblade serves: the volume's, or a Ceph volume's FUSE export.</param>
    public static void RequireNotExportedElsewhere(AtaoeExportRequest request, string servedFile, IEnumerable<AtaoeExportRecord> running, IEnumerable<RunningVblade> processes)
    {
        var records = running.Where(r => r.VolumePath == request.Volume.Path && !(r.ReadOnly && request.ReadOnly)).Select(r => $"e{r.Shelf}.{r.Slot} on {r.Interface} (vblade pid {r.ProcessId})");
        var byHand = processes.Where(p => SameFile(p.CommandLine.File, servedFile) && !(p.CommandLine.ReadOnly && request.ReadOnly))
            .Select(p => $"e{p.CommandLine.Shelf}.{p.CommandLine.Slot} on {p.CommandLine.Interface} (vblade pid {p.ProcessId})");
        var exports = records.Concat(byHand).Distinct().ToList();
        if (exports.Count > 0)
            throw new VolumeInUseException(
                $"Volume '{request.Volume.Name}' is already exported as {string.Join(", ", exports)}; only read-only exports may share a volume.", request.Volume.Path);
    }

    private static bool SameFile(string file, string volumePath) =>
        Native.LibcPaths.RealPath(file) is { } resolved ? resolved == volumePath : file == volumePath;
}

/// <summary>Which slots of one shelf on one interface (in one network namespace) are taken, by records or by running vblades.</summary>
public sealed class AddressOccupancy(IReadOnlyList<AtaoeExportRecord> records, IReadOnlyList<RunningVblade> processes, int shelf, string interfaceName, string networkNamespace)
{
    private IEnumerable<AtaoeExportRecord> Records => records.Where(r =>
        r.Shelf == shelf && r.Interface == interfaceName && r.NetworkNamespace == networkNamespace);

    private IEnumerable<RunningVblade> Processes => processes.Where(p =>
        p.CommandLine.Shelf == shelf && p.CommandLine.Interface == interfaceName && (p.NetworkNamespace ?? networkNamespace) == networkNamespace);

    public int LowestFreeSlot()
    {
        var taken = Records.Select(r => r.Slot).Concat(Processes.Select(p => p.CommandLine.Slot)).ToHashSet();
        return Enumerable.Range(0, AoeProtocol.MaxSlot + 1).Where(s => !taken.Contains(s)).Select(s => (int?)s).FirstOrDefault()
               ?? throw new ResourceExistsException("AoeShelfFull", $"Every slot of shelf {shelf} on {interfaceName} is taken.", shelf);
    }

    /// <summary>Refuses a taken address; returns the dead or stale record that -Restart replaces, if any.</summary>
    public AtaoeExportRecord? RequireFree(int slot, bool restart)
    {
        var address = $"e{shelf}.{slot} on {interfaceName}";
        var record = Records.FirstOrDefault(r => r.Slot == slot);
        var state = record?.StateNow();
        if (record is not null && state == AtaoeExportState.Running)
            throw new ResourceExistsException("AoeAddressInUse",
                $"{address} is already exported: volume '{record.Volume}' by vblade pid {record.ProcessId}. Choose another slot (or -Slot Auto), or Stop-AtaoeExport it first.", address);
        if (Processes.FirstOrDefault(p => p.CommandLine.Slot == slot) is { } process)
            throw new ResourceExistsException("AoeAddressInUse",
                $"{address} is already exported by a vblade this module did not start (pid {process.ProcessId}, file {process.CommandLine.File}). Choose another slot, or stop that vblade.", address);
        if (record is not null && !restart)
            throw new ResourceExistsException("AoeExportDead",
                $"{address} was exported (volume '{record.Volume}') and its vblade is gone ({state}). Use -Restart to start it again, or Stop-AtaoeExport to clear it.", address);
        return record;
    }
}
