using SparseStorage.Core.Devices;
using SparseStorage.Core.Host;

namespace SparseStorage.Core.Tests.Units;

/// <summary>
/// A loop device on a FUSE export whose daemon exited shows "/" as its backing file; the export's record, which names
/// the loop by device, number and disk sequence, is what finds it, and only while it is still that attachment.
/// </summary>
public class RecordedLoopTests
{
    private const string Volume = "/p/v.qcow2";
    private const string Export = "/run/sparsestorage/fuse/0123456789abcdef.raw";

    private static FuseExportRecord RecordOf(LoopIdentity? loop) => new(Volume, Export, 4242) { Loop = loop };

    private static AttachmentState State(LoopDevice loop, FuseExportRecord record) =>
        new([loop], [new MountEntry(loop.DeviceNumber, "/srv/v", "ext4", loop.Device, false)], [record]);

    [Fact]
    public void A_loop_whose_backing_file_reads_slash_is_found_with_its_mounts_through_the_record()
    {
        var loop = new LoopDevice("/dev/loop5", LoopDevice.DetachedBackingFile, "7:5", false, 981);

        var attachment = State(loop, RecordOf(LoopIdentity.Of(loop))).Of(Volume);

        attachment.LoopDevice.Should().Be("/dev/loop5");
        attachment.MountPoints.Should().Equal("/srv/v");
        loop.IsBackingDetached.Should().BeTrue();
    }

    [Fact]
    public void A_loop_detached_and_attached_again_since_the_record_is_not_the_volumes()
    {
        var recorded = new LoopIdentity("/dev/loop5", "7:5", 981);
        var reused = new LoopDevice("/dev/loop5", LoopDevice.DetachedBackingFile, "7:5", false, 983);

        var attachment = State(reused, RecordOf(recorded)).Of(Volume);

        attachment.LoopDevice.Should().BeNull("the disk sequence changed: the device holds another attachment now");
        attachment.MountPoints.Should().BeEmpty();
        attachment.FuseExport.Should().NotBeNull("the record itself is still there to clean up");
    }

    [Fact]
    public void Without_a_disk_sequence_the_record_proves_nothing_and_names_no_loop()
    {
        var loop = new LoopDevice("/dev/loop5", LoopDevice.DetachedBackingFile, "7:5", false);

        State(loop, RecordOf(LoopIdentity.Of(loop))).Of(Volume).LoopDevice.Should().BeNull();
    }

    [Fact]
    public void The_export_path_still_finds_the_loop_of_a_record_written_before_loops_were_recorded()
    {
        var loop = new LoopDevice("/dev/loop6", Export, "7:6", false, 12);

        State(loop, RecordOf(null)).Of(Volume).LoopDevice.Should().Be("/dev/loop6");
    }

    [Fact]
    public void The_loop_is_kept_in_the_records_json()
    {
        var directory = Directory.CreateTempSubdirectory("sstest-recordedloop-").FullName;
        try
        {
            var record = RecordOf(new LoopIdentity("/dev/loop5", "7:5", 981)) with { ExportPath = FuseExportRecord.ExportPathFor(directory, Volume) };

            record.Save(directory);

            FuseExportRecord.Read(directory, Volume)!.Loop.Should().Be(new LoopIdentity("/dev/loop5", "7:5", 981));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
