using System.Text;
using SparseStorage.Core.Ceph;

namespace SparseStorage.Core.Tests.Units;

/// <summary>Reading the buffers of rados_list_lockers: NUL-separated strings that any client of the pool may have written.</summary>
public sealed class RadosLockersTests
{
    private static byte[] Nul(params string[] strings) => Encoding.UTF8.GetBytes(string.Concat(strings.Select(s => s + "\0")));

    [Fact]
    public void A_mount_lock_names_its_holder_by_its_cookie()
    {
        var lockers = RadosLockers.Parse(1, Nul("client.4140"), Nul(RbdMountLock.CookieFor("node1:/tmp/b")), Nul("198.19.137.1:0/109642199"));

        lockers.Should().Equal(new RadosLocker("client.4140", "sparsestorage mount on node1:/tmp/b", "198.19.137.1:0/109642199"));
        lockers[0].Holder.Should().Be("node1:/tmp/b");
    }

    [Fact]
    public void A_lock_taken_with_another_cookie_is_named_by_its_client_and_address()
    {
        var lockers = RadosLockers.Parse(1, Nul("client.4147"), Nul("sparsestorage"), Nul("198.18.0.1:0/1"));

        lockers[0].Holder.Should().Be("client.4147 at 198.18.0.1:0/1");
    }

    [Fact]
    public void No_lockers_is_an_empty_list_whatever_the_buffers_hold()
    {
        RadosLockers.Parse(0, [], [], []).Should().BeEmpty();
        RadosLockers.Parse(0, Nul("stale"), [0xff], []).Should().BeEmpty();
    }

    [Fact]
    public void Several_lockers_are_read_in_order_and_bytes_after_the_last_are_ignored()
    {
        var lockers = RadosLockers.Parse(2, Nul("client.1", "client.2", "junk"), Nul("a", ""), [.. Nul("addr1", "addr2"), 0x41, 0x42]);

        lockers.Select(l => (l.Client, l.Cookie, l.Address)).Should().Equal(("client.1", "a", "addr1"), ("client.2", "", "addr2"));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(RadosLockers.MaxLockers + 1)]
    [InlineData(long.MaxValue)]
    public void A_count_out_of_range_is_refused(long count)
    {
        var parse = () => RadosLockers.Parse(count, Nul("client.1"), Nul("c"), Nul("a"));

        parse.Should().Throw<InvalidDataException>().WithMessage($"*{count}*");
    }

    [Theory]
    [InlineData("clients")]
    [InlineData("cookies")]
    [InlineData("addresses")]
    public void A_buffer_with_fewer_strings_than_the_count_is_refused(string shortBuffer)
    {
        byte[] Buffer(string name) => name == shortBuffer ? Encoding.UTF8.GetBytes("client.1\0unterminated") : Nul("x", "y");

        var parse = () => RadosLockers.Parse(2, Buffer("clients"), Buffer("cookies"), Buffer("addresses"));

        parse.Should().Throw<InvalidDataException>().WithMessage($"*{shortBuffer}*");
    }

    [Fact]
    public void Terminal_escapes_bidirectional_overrides_and_invalid_utf8_never_reach_the_text()
    {
        var cookie = RbdMountLock.CookieFor("evil\u001b[2J\u202Ehost\u0007");
        byte[] invalid = [0x63, 0xff, 0xfe, 0x00];

        var locker = RadosLockers.Parse(1, invalid, Nul(cookie), Nul("addr")).Single();

        locker.Holder.Should().Be("evil?[2J?host?");
        locker.Client.Should().Be("c\uFFFD\uFFFD");
    }

    [Fact]
    public void A_huge_string_is_cut_to_the_length_kept()
    {
        var huge = new string('h', 100_000);

        var locker = RadosLockers.Parse(1, Nul("client.1"), Nul(RbdMountLock.CookieFor(huge)), Nul("addr")).Single();

        locker.Cookie.Length.Should().Be(RadosLockers.MaxTextLength);
        locker.Holder.Should().StartWith("hhhh");
    }

    [Theory]
    [InlineData("sparsestorage mount on node2", "node2")]
    [InlineData("sparsestorage mount on ", null)]
    [InlineData("sparsestorage", null)]
    [InlineData("", null)]
    public void The_holder_is_read_only_from_this_modules_cookies(string text, string? holder) =>
        RbdMountLock.HolderIn(text).Should().Be(holder);
}
