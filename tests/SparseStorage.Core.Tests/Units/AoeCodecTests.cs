using System.Buffers.Binary;
using System.Text;
using SparseStorage.Core.Aoe;

namespace SparseStorage.Core.Tests.Units;

public sealed class AoeCodecTests
{
    private static readonly MacAddress Initiator = MacAddress.Parse("02:00:00:00:00:01");
    private static readonly MacAddress Target = MacAddress.Parse("02:00:00:00:00:02");

    [Fact]
    public void A_broadcast_query_config_is_laid_out_as_the_specification_says()
    {
        var frame = new byte[64];
        new AoeHeader(MacAddress.Broadcast, Initiator, false, AoeError.None, AoeProtocol.BroadcastShelf, AoeProtocol.BroadcastSlot, AoeCommand.QueryConfig, 0xA1B2C3D4).Write(frame);
        var length = AoeConfig.ReadQuery.Write(frame);

        length.Should().Be(60, "frames shorter than the Ethernet minimum are padded to it");
        Convert.ToHexString(frame, 0, 32).Should().Be(
            "FFFFFFFFFFFF" + "020000000001" + "88A2" + "10" + "00" + "FFFF" + "FF" + "01" + "A1B2C3D4"
            + "0000" + "0000" + "00" + "10" + "0000");
    }

    [Fact]
    public void A_config_answer_gives_buffer_count_firmware_sectors_and_version()
    {
        var frame = new byte[60];
        new AoeHeader(Initiator, Target, true, AoeError.None, 7, 3, AoeCommand.QueryConfig, 42).Write(frame);
        new AoeConfig(16, 0x4019, 17, 1, 0, Encoding.ASCII.GetBytes("node7")).Write(frame);

        AoeHeader.TryRead(frame, out var header).Should().BeTrue();
        header.Should().Be(new AoeHeader(Initiator, Target, true, AoeError.None, 7, 3, AoeCommand.QueryConfig, 42));
        frame[14].Should().Be(0x18, "version 1 in the high nibble, the response flag 0x08 in the low one");
        var config = AoeConfig.Read(frame);
        (config.BufferCount, config.FirmwareVersion, config.SectorCount, config.AoeVersion, config.ConfigCommand).Should().Be((16, 0x4019, 17, 1, 0));
        Encoding.ASCII.GetString(config.ConfigString).Should().Be("node7");
    }

    [Theory]
    [InlineData(0x1C, 2, AoeError.BadArgument)]
    [InlineData(0x1C, 6, AoeError.TargetReserved)]
    [InlineData(0x1C, 0, AoeError.BadArgument)]
    [InlineData(0x18, 3, AoeError.None)]
    public void The_error_flag_decides_whether_a_response_failed(byte flags, byte code, AoeError expected)
    {
        var frame = ResponseFrame();
        frame[14] = flags;
        frame[15] = code;
        AoeHeader.TryRead(frame, out var header).Should().BeTrue();
        header.Error.Should().Be(expected);
        header.IsError.Should().Be(expected != AoeError.None);
        header.IsResponse.Should().BeTrue();
    }

    [Fact]
    public void Frames_of_another_type_version_or_length_are_not_AoE()
    {
        var otherType = ResponseFrame();
        otherType[12] = 0x08;
        otherType[13] = 0x00;
        var otherVersion = ResponseFrame();
        otherVersion[14] = 0x28;
        AoeHeader.TryRead(otherType, out _).Should().BeFalse();
        AoeHeader.TryRead(otherVersion, out _).Should().BeFalse();
        AoeHeader.TryRead(ResponseFrame().AsSpan(0, 23), out _).Should().BeFalse();
        AoeHeader.TryRead(ResponseFrame(), out _).Should().BeTrue();
    }

    [Fact]
    public void An_LBA48_read_puts_the_address_little_endian_in_six_bytes()
    {
        var frame = new byte[60];
        AtaHeader.Read48(0x1234_5678_9ABC, 17).Write(frame);
        Convert.ToHexString(frame, 24, 12).Should().Be("40" + "00" + "11" + "24" + "BC9A78563412" + "0000");
        AtaHeader.Read(frame).Should().Be(new AtaHeader(AtaFlags.Extended, 0, 17, AtaCommand.ReadSectorsExt, 0x1234_5678_9ABC));
    }

    [Fact]
    public void A_write_sets_the_write_and_extended_flags()
    {
        var frame = new byte[60];
        AtaHeader.Write48(AtaHeader.MaxLba48, 2).Write(frame);
        frame[24].Should().Be(0x41);
        frame[27].Should().Be(AtaCommand.WriteSectorsExt);
        AtaHeader.Read(frame).Lba.Should().Be(AtaHeader.MaxLba48);
        FluentActions.Invoking(() => AtaHeader.Read48(0, 256)).Should().Throw<OverflowException>("one request carries at most 255 sectors");
    }

    [Theory]
    [InlineData(0x40, false)]
    [InlineData(0x51, true)]
    [InlineData(0x01, true)]
    [InlineData(0x60, true)]
    public void The_status_register_tells_a_failed_command(byte status, bool failed) =>
        new AtaHeader(AtaFlags.None, AtaHeader.ErrorAborted, 0, status, 0).Failed.Should().Be(failed);

    [Fact]
    public void An_ATA_response_shorter_than_its_header_is_rejected() =>
        FluentActions.Invoking(() => AtaHeader.Read(new byte[30])).Should().Throw<InvalidDataException>();

    [Fact]
    public void Identify_reads_the_LBA48_count_and_byte_swapped_strings()
    {
        var block = IdentifyBlock(lba48: 3_000_000_000, supportsLba48: true);
        var identify = AtaIdentify.Parse(block);

        identify.Sectors.Should().Be(3_000_000_000);
        identify.Lba28Sectors.Should().Be(0x0FFF_FFFF, "a device beyond 128 GiB reports the LBA28 maximum");
        identify.FirmwareRevision.Should().Be("V25");
        identify.Model.Should().Be("Coraid EtherDrive vblade");
        identify.Serial.Should().Be("7.1:node7");
        block[46].Should().Be((byte)'2', "the first character of a word is its high byte");
        block[47].Should().Be((byte)'V');
    }

    [Fact]
    public void Identify_falls_back_to_the_LBA28_count_without_LBA48_support()
    {
        var block = IdentifyBlock(lba48: 999, supportsLba48: false);
        BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(120), 2048);
        AtaIdentify.Parse(block).Sectors.Should().Be(2048);
        FluentActions.Invoking(() => AtaIdentify.Parse(new byte[100])).Should().Throw<InvalidDataException>();
    }

    [Theory]
    [InlineData(1500, 2)]
    [InlineData(9000, 17)]
    [InlineData(4000, 7)]
    public void A_frame_carries_as_many_sectors_as_the_MTU_allows(int mtu, int sectors) =>
        AoeProtocol.SectorsPerFrame(mtu).Should().Be(sectors);

    [Theory]
    [InlineData("52:54:00:AB:cd:01", "52:54:00:ab:cd:01")]
    [InlineData("525400abcd01", "52:54:00:ab:cd:01")]
    [InlineData("52-54-00-AB-CD-01", "52:54:00:ab:cd:01")]
    public void MAC_addresses_parse_in_the_forms_vblade_accepts(string text, string normal) =>
        MacAddress.Parse(text).ToString().Should().Be(normal);

    [Theory]
    [InlineData("52:54:00:ab:cd")]
    [InlineData("52:54:00:ab:cd:0g")]
    [InlineData("")]
    public void Malformed_MAC_addresses_are_refused(string text) =>
        FluentActions.Invoking(() => MacAddress.Parse(text)).Should().Throw<InvalidStorageArgumentException>().Which.ErrorId.Should().Be("InvalidMacAddress");

    private static byte[] ResponseFrame()
    {
        var frame = new byte[60];
        new AoeHeader(Initiator, Target, true, AoeError.None, 1, 1, AoeCommand.Ata, 1).Write(frame);
        return frame;
    }

    /// <summary>An IDENTIFY block built the way vblade's ata.c builds it.</summary>
    private static byte[] IdentifyBlock(long lba48, bool supportsLba48)
    {
        var block = new byte[512];
        SetString(block, 10, 20, "7.1:node7");
        SetString(block, 23, 8, "V25");
        SetString(block, 27, 40, "Coraid EtherDrive vblade");
        BinaryPrimitives.WriteUInt16LittleEndian(block.AsSpan(83 * 2), (ushort)(supportsLba48 ? 0x5400 : 0x5000));
        BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(60 * 2), (uint)Math.Min(lba48, 0x0FFF_FFFF));
        BinaryPrimitives.WriteUInt64LittleEndian(block.AsSpan(100 * 2), (ulong)lba48);
        return block;
    }

    private static void SetString(byte[] block, int word, int length, string text)
    {
        var padded = text.PadRight(length);
        for (var i = 0; i < length; i += 2)
        {
            block[word * 2 + i + 1] = (byte)padded[i];
            block[word * 2 + i] = (byte)padded[i + 1];
        }
    }
}
