using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using CommunityToolkit.HighPerformance.Buffers;
using FsCheck;
using FsCheck.Fluent;

namespace NativeBuffers.Tests.Collections;

public class NativeBufferWriterTests
{
    public enum Kind { WriteViaSpan, WriteViaMemory, AdvanceTooFar, Advance, Clear, ResetWrittenCount, ReadWrittenSpan, ReadWrittenMemory, WrittenCount, Dispose, Write, WriteOwn }

    /// <summary>Hint is the size hint; Count how many of the handed-out elements to write and advance over.</summary>
    public sealed record Op(Kind Kind, int Hint, int Count);

    private static readonly Gen<Op> OpGen =
        from kind in Gen.Frequency(
            (20, Gen.Constant(Kind.WriteViaSpan)), (20, Gen.Constant(Kind.WriteViaMemory)), (3, Gen.Constant(Kind.AdvanceTooFar)),
            (3, Gen.Constant(Kind.Advance)), (3, Gen.Constant(Kind.Clear)), (3, Gen.Constant(Kind.ResetWrittenCount)),
            (5, Gen.Constant(Kind.ReadWrittenSpan)), (5, Gen.Constant(Kind.ReadWrittenMemory)), (3, Gen.Constant(Kind.WrittenCount)),
            (1, Gen.Constant(Kind.Dispose)), (5, Gen.Constant(Kind.Write)), (5, Gen.Constant(Kind.WriteOwn)))
        from hint in Gen.Frequency((1, Gen.Choose(-2, -1)), (8, Gen.Choose(0, 300)), (2, Gen.Choose(300, 5000)))
        from count in Gen.Frequency((1, Gen.Choose(-2, -1)), (8, Gen.Choose(0, 5000)))
        select new Op(kind, hint, count);

    private static Arbitrary<Op[]> Programs => Gen.Sized(size => Gen.ArrayOf(OpGen, size * 2)).ToArbitrary();

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // every growth moves the buffer, so a stale self-aliased source would show
    public void Random_programs_leave_the_same_state_as_ArrayPoolBufferWriter(bool moving)
    {
        using NativeArrayPool<byte> pool = moving ? SelfAliasing.MovingPool<byte>() : NativeArrayPool<byte>.Create();
        Prop.ForAll(Programs, ops =>
        {
            var reference = new ArrayPoolBufferWriter<byte>();
            var writer = new NativeBufferWriter<byte>(pool);
            bool disposed = false;
            try
            {
                for (int i = 0; i < ops.Length; i++)
                {
                    Op op = ops[i];
                    string step = $"step {i} {op}";
                    switch (op.Kind)
                    {
                        case Kind.WriteViaSpan or Kind.WriteViaMemory:
                        {
                            bool viaSpan = op.Kind == Kind.WriteViaSpan;
                            int referenceLength = -1, ourLength = -1;
                            Differential.Outcome expected = Differential.Capture(() => referenceLength = viaSpan ? reference.GetSpan(op.Hint).Length : reference.GetMemory(op.Hint).Length);
                            Differential.Outcome actual = Differential.Capture(() => ourLength = viaSpan ? writer.GetSpan(op.Hint).Length : writer.GetMemory(op.Hint).Length);
                            Differential.Same(expected, actual with { Value = expected.Value }, step); // lengths differ with capacity
                            if (expected.Exception is not null)
                                break;
                            Assert.True(ourLength >= Math.Max(op.Hint, 1), step);
                            Assert.Equal(ourLength, writer.FreeCapacity);
                            int n = Math.Clamp(op.Count, 0, Math.Min(referenceLength, ourLength));
                            Fill(viaSpan ? reference.GetSpan(op.Hint)[..n] : reference.GetMemory(op.Hint).Span[..n], i);
                            Fill(viaSpan ? writer.GetSpan(op.Hint)[..n] : writer.GetMemory(op.Hint).Span[..n], i);
                            Differential.Same(Differential.Capture(() => reference.Advance(n)), Differential.Capture(() => writer.Advance(n)), step);
                            break;
                        }
                        case Kind.AdvanceTooFar:
                        {
                            // Past both writers' free capacity, so both must refuse whatever their capacities are.
                            int beyond = disposed ? 1 : (int)Math.Max(reference.FreeCapacity, writer.FreeCapacity) + 1;
                            Differential.Same(Differential.Capture(() => reference.Advance(beyond)), Differential.Capture(() => writer.Advance(beyond)), step);
                            break;
                        }
                        case Kind.Advance:
                        {
                            // Negative counts throw; 0 is always allowed.
                            int count = Math.Min(op.Count, 0);
                            Differential.Same(Differential.Capture(() => reference.Advance(count)), Differential.Capture(() => writer.Advance(count)), step);
                            break;
                        }
                        case Kind.Clear:
                            Differential.Same(Differential.Capture(reference.Clear), Differential.Capture(writer.Clear), step);
                            break;
                        case Kind.ResetWrittenCount when disposed:
                            // Documented difference: ours throws after Dispose, the toolkit's does not.
                            Assert.Throws<ObjectDisposedException>(writer.ResetWrittenCount);
                            break;
                        case Kind.ResetWrittenCount:
                            // Toolkit 7.1.2 has no ResetWrittenCount; Clear leaves the same visible state (nothing written).
                            Differential.Same(Differential.Capture(reference.Clear), Differential.Capture(writer.ResetWrittenCount), step);
                            break;
                        case Kind.ReadWrittenSpan:
                            Differential.Same(Differential.Capture(() => reference.WrittenSpan.ToArray()), Differential.Capture(() => writer.WrittenSpan.ToArray()), step);
                            break;
                        case Kind.ReadWrittenMemory:
                            Differential.Same(Differential.Capture(() => reference.WrittenMemory.ToArray()), Differential.Capture(() => writer.WrittenMemory.ToArray()), step);
                            break;
                        case Kind.WrittenCount when disposed:
                            Assert.Throws<ObjectDisposedException>(() => writer.WrittenCount);
                            break;
                        case Kind.WrittenCount:
                            Differential.Same(Differential.Capture(() => (long)reference.WrittenCount), Differential.Capture(() => writer.WrittenCount), step);
                            break;
                        case Kind.Write:
                        {
                            // Ours is the instance method; the toolkit's writer gets BuffersExtensions.Write.
                            byte[] data = new byte[Math.Max(op.Count, 0)];
                            Fill(data, i);
                            Differential.Same(Differential.Capture(() => reference.Write(data)), Differential.Capture(() => writer.Write(data)), step);
                            break;
                        }
                        case Kind.WriteOwn:
                        {
                            // A window of the written data (Hint picks the start, Count the length; past 64 KiB at most
                            // 300 bytes, so programs stay small). The reference appends a copy, what the call means.
                            Differential.Same(
                                Differential.Capture(() =>
                                {
                                    (int start, int count) = OwnWindow(reference.WrittenCount, op);
                                    reference.Write(reference.WrittenSpan.Slice(start, count).ToArray());
                                }),
                                Differential.Capture(() =>
                                {
                                    (int start, int count) = OwnWindow((int)writer.WrittenCount, op);
                                    writer.Write(writer.WrittenSpan.Slice(start, count));
                                }),
                                step);
                            break;
                        }
                        case Kind.Dispose:
                            reference.Dispose();
                            writer.Dispose();
                            disposed = true;
                            break;
                    }
                    if (!disposed)
                    {
                        Assert.Equal(reference.WrittenCount, writer.WrittenCount);
                        Assert.Equal(reference.WrittenSpan.ToArray(), writer.WrittenSpan.ToArray());
                        Assert.Equal(reference.WrittenSpan.ToArray(), writer.WrittenSequence.ToArray());
                    }
                }
            }
            finally
            {
                reference.Dispose();
                writer.Dispose();
            }
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(300));

        NativePoolStatistics stats = pool.GetStatistics();
        Assert.Equal(stats.Rents, stats.Returns); // every writer gave its buffer back
    }

    private static (int Start, int Count) OwnWindow(int written, Op op)
    {
        int start = Math.Max(op.Hint, 0) % (written + 1);
        int count = Math.Min(Math.Max(op.Count, 0), written - start);
        return (start, written > 64 << 10 ? Math.Min(count, 300) : count);
    }

    private static void Fill(Span<byte> span, int step)
    {
        for (int i = 0; i < span.Length; i++)
            span[i] = (byte)(step * 31 + i);
    }

    [Theory]
    [MemberData(nameof(SelfAliasing.Lengths), MemberType = typeof(SelfAliasing))]
    public void Writing_its_own_written_span_appends_a_copy_like_ArrayBufferWriter(int length)
    {
        // BuffersExtensions.Write(writer, span) fills the free space, then asks GetSpan for more, which grows and moves
        // the buffer the span points into. Called on the concrete type, Write must read the data as it was.
        using NativeArrayPool<byte> pool = SelfAliasing.MovingPool<byte>();
        using var writer = new NativeBufferWriter<byte>(length, pool);
        var reference = new ArrayBufferWriter<byte>(length);
        byte[] data = new byte[length - 100]; // leaves free space, so the copy is split across the growth
        for (int i = 0; i < data.Length; i++)
            data[i] = (byte)(i * 7 + 1);
        writer.Write(data);
        reference.Write(data);

        writer.Write(writer.WrittenSpan);
        reference.Write(reference.WrittenSpan);
        writer.Write(writer.WrittenMemory.Span[10..]);
        reference.Write(reference.WrittenMemory.Span[10..]);
        writer.Write(writer.WrittenSpan[..50]); // fits without growth
        reference.Write(reference.WrittenSpan[..50]);

        SelfAliasing.AssertSame(reference.WrittenSpan, writer.WrittenSpan, "ArrayBufferWriter<byte>");
    }

    [Fact]
    public void Defaults_match_ArrayPoolBufferWriter()
    {
        using var writer = new NativeBufferWriter<byte>();
        Assert.Equal(NativeBufferWriter<byte>.DefaultInitialCapacity, writer.Capacity);
        Assert.Equal(0, writer.WrittenCount);
        Assert.True(writer.GetSpan().Length >= 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.GetSpan(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NativeBufferWriter<byte>(-1));
    }

    [Fact]
    public void Clear_zeroes_what_was_written_and_ResetWrittenCount_does_not()
    {
        using var writer = new NativeBufferWriter<byte>();
        writer.GetSpan(100)[..100].Fill(0xAB);
        writer.Advance(100);
        writer.ResetWrittenCount();
        writer.Advance(100);
        Assert.All(writer.WrittenSpan.ToArray(), b => Assert.Equal(0xAB, b));
        writer.Clear();
        Assert.Equal(0, writer.WrittenCount);
        writer.Advance(100);
        Assert.All(writer.WrittenSpan.ToArray(), b => Assert.Equal(0, b));
    }

    [Fact]
    public void Memory_handed_out_before_growth_throws_after_it_and_pins_without_a_gc_handle()
    {
        using var pool = NativeArrayPool<int>.Create();
        using var writer = new NativeBufferWriter<int>(16, pool);
        Memory<int> before = writer.GetMemory(4);
        before.Span[0] = 7;
        writer.Advance(1);
        using (MemoryHandle handle = before.Pin())
        {
            unsafe
            {
                Assert.Equal(7, *(int*)handle.Pointer);
            }
        }
        Assert.Equal(7, writer.WrittenMemory.Span[0]);
        writer.GetMemory((int)writer.Capacity * 4); // grows: the old lease is retired
        Assert.Throws<ObjectDisposedException>(() => before.Span[0]);
        Assert.Throws<ObjectDisposedException>(() => before.Pin());
        Assert.Equal(7, writer.WrittenMemory.Span[0]);
    }

    [Fact]
    public unsafe void Memory_kept_from_a_disposed_writer_never_reaches_the_buffers_next_tenant()
    {
        // The writer's MemoryManager captures its lease (record and generation) and is never bound to another one,
        // unlike the reused owners of NativeMemoryPool's opt-in: so a kept Memory stays stale however often the
        // buffer is rented again.
        using var pool = NativeArrayPool<byte>.Create();
        var stale = new Queue<Memory<byte>>();
        nint firstAddress = 0;
        int sameAddress = 0;
        for (int round = 0; round < 1_000; round++)
        {
            Memory<byte> memory;
            using (var writer = new NativeBufferWriter<byte>(4096, pool))
            {
                memory = writer.GetMemory(16);
                memory.Span.Fill((byte)round);
                nint address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(memory.Span));
                if (round == 0)
                    firstAddress = address;
                else if (address == firstAddress)
                    sameAddress++;
                foreach (Memory<byte> old in stale)
                {
                    Assert.Throws<ObjectDisposedException>(() => old.Span[0]);
                    Assert.Throws<ObjectDisposedException>(() => old.Pin());
                }
                Assert.True(memory.Span.IndexOfAnyExcept((byte)round) < 0);
            }
            stale.Enqueue(memory);
            if (stale.Count > 3)
                stale.Dequeue();
        }
        Assert.True(sameAddress > 500, $"the buffer came back only {sameAddress} times: the test proved little");
    }

    [Fact]
    public void Char_writer_prints_its_text_like_ArrayPoolBufferWriter()
    {
        using var writer = new NativeBufferWriter<char>();
        "hello".AsSpan().CopyTo(writer.GetSpan(5));
        writer.Advance(5);
        using var reference = new ArrayPoolBufferWriter<char>();
        "hello".AsSpan().CopyTo(reference.GetSpan(5));
        reference.Advance(5);
        Assert.Equal(reference.ToString(), writer.ToString());
    }
}
