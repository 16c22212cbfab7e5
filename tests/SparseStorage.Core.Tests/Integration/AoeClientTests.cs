using SparseStorage.Core.Aoe;
using SparseStorage.Core.Tests.Support;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>The userspace AoE client against vblade started by hand in a node namespace.</summary>
public sealed class AoeClientTests : IDisposable
{
    private readonly TempDirectory files = new("aoe-client");
    private readonly AoeLab lab = new(nodes: 1, mtu: 9000);

    [IntegrationFact("vblade", "ip")]
    public void The_client_finds_sizes_reads_and_writes_a_hand_started_vblade_with_jumbo_frames()
    {
        var image = files.Combine("disk.img");
        var content = new byte[3 * 1024 * 1024 + 512];
        new Random(7).NextBytes(content);
        File.WriteAllBytes(image, content);
        lab.StartVbladeByHand(1, "3", "9", lab.NodeInterface(1), image).Should().StartWith("pid ");

        var (target, read, readSingly, written) = lab.InSupervisor(() =>
        {
            using var client = AoeClient.Open(lab.SupervisorInterface);
            var found = client.Discover(TimeSpan.FromSeconds(1)).Single();
            var disk = client.Connect(found);
            var all = new byte[content.Length];
            disk.Read(0, all);
            var one = new byte[17 * 512 * 3];
            client.Connect(found, new AoeDiskOptions { MaxInFlight = 1 }).Read(5, one);
            var patch = Enumerable.Repeat((byte)0xA5, 40 * 512).ToArray();
            disk.Write(100, patch);
            return (found, all, one, patch);
        });

        target.Shelf.Should().Be(3);
        target.Slot.Should().Be(9);
        target.Sectors.Should().Be(content.Length / 512);
        target.MaxSectorsPerRequest.Should().Be(17, "vblade computes (MTU - 36) / 512 for MTU 9000");
        target.BufferCount.Should().Be(16);
        target.FirmwareVersion.Should().MatchRegex(@"^V\d+$");
        read.Should().Equal(content);
        readSingly.Should().Equal(content.AsSpan(5 * 512, readSingly.Length).ToArray());
        File.ReadAllBytes(image).AsSpan(100 * 512, written.Length).ToArray().Should().Equal(written);
    }

    public void Dispose()
    {
        lab.Dispose();
        files.Dispose();
        lab.LeftBehind().Should().BeEmpty();
    }
}
