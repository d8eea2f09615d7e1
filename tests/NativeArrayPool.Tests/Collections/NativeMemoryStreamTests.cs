using System.Buffers;
using FsCheck;
using FsCheck.Fluent;

namespace NativeBuffers.Tests.Collections;

public class NativeMemoryStreamTests
{
    public enum Kind
    {
        Write, WriteSpan, WriteByte, WriteAsync, Read, ReadSpan, ReadByte, ReadAsync, Seek, SetPosition, SetLength,
        SetCapacity, ToArray, CopyTo, CopyToAsync, WriteTo, Flush, Dispose,
    }

    /// <summary>A is a length, position or offset; B an offset into an array or a seek origin; C a count.</summary>
    public sealed record Op(Kind Kind, int A, int B, int C);

    private static readonly Gen<Op> OpGen =
        from kind in Gen.Frequency(
            (12, Gen.Constant(Kind.Write)), (6, Gen.Constant(Kind.WriteSpan)), (4, Gen.Constant(Kind.WriteByte)), (3, Gen.Constant(Kind.WriteAsync)),
            (6, Gen.Constant(Kind.Read)), (4, Gen.Constant(Kind.ReadSpan)), (4, Gen.Constant(Kind.ReadByte)), (3, Gen.Constant(Kind.ReadAsync)),
            (8, Gen.Constant(Kind.Seek)), (5, Gen.Constant(Kind.SetPosition)), (6, Gen.Constant(Kind.SetLength)), (2, Gen.Constant(Kind.SetCapacity)),
            (2, Gen.Constant(Kind.ToArray)), (2, Gen.Constant(Kind.CopyTo)), (2, Gen.Constant(Kind.CopyToAsync)), (1, Gen.Constant(Kind.WriteTo)),
            (1, Gen.Constant(Kind.Flush)), (1, Gen.Constant(Kind.Dispose)))
        from a in Gen.Frequency((1, Gen.Choose(-300, -1)), (10, Gen.Choose(0, 600)), (1, Gen.Choose(600, 5000)))
        from b in Gen.Frequency((1, Gen.Choose(-2, -1)), (10, Gen.Choose(0, 3)), (2, Gen.Choose(4, 40)))
        from c in Gen.Frequency((1, Gen.Choose(-2, -1)), (10, Gen.Choose(0, 300)))
        select new Op(kind, a, b, c);

    private static Arbitrary<Op[]> Programs => Gen.Sized(size => Gen.ArrayOf(OpGen, size * 2)).ToArbitrary();

    [Fact]
    public void Random_programs_leave_the_same_state_as_MemoryStream()
    {
        using var pool = NativeArrayPool<byte>.Create();
        Prop.ForAll(Programs, ops =>
        {
            using var reference = new MemoryStream();
            using var stream = new NativeMemoryStream(pool);
            bool disposed = false;
            for (int i = 0; i < ops.Length; i++)
            {
                Op op = ops[i];
                string step = $"step {i} {op}";
                if (disposed && (op.Kind == Kind.ToArray || (op.Kind == Kind.SetLength && op.A >= 0)))
                {
                    // Documented differences: a closed MemoryStream still hands out its array and refuses SetLength
                    // as unwritable; ours has given its memory back and reports disposal.
                    Assert.Throws<ObjectDisposedException>(() => Apply(stream, op, i));
                    continue;
                }
                Differential.Same(Differential.Capture(() => Apply(reference, op, i)), Differential.Capture(() => Apply(stream, op, i)), step);
                if (op.Kind == Kind.Dispose)
                    disposed = true;
                Assert.Equal(reference.CanRead, stream.CanRead);
                Assert.Equal(reference.CanWrite, stream.CanWrite);
                Assert.Equal(reference.CanSeek, stream.CanSeek);
                if (disposed)
                    continue;
                Assert.Equal(reference.Length, stream.Length);
                Assert.Equal(reference.Position, stream.Position);
                Assert.True(stream.Capacity >= stream.Length, step);
                Assert.Equal(reference.ToArray(), stream.ToArray());
                Assert.Equal(reference.ToArray(), stream.GetReadOnlySequence().ToArray());
            }
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(300));

        NativePoolStatistics stats = pool.GetStatistics();
        Assert.Equal(stats.Rents, stats.Returns); // every stream gave its buffer back
    }

    /// <summary>Runs one operation and returns what a caller sees of it (data read, positions, copied bytes).</summary>
    private static string Apply(Stream s, Op op, int step)
    {
        switch (op.Kind)
        {
            case Kind.Write:
            {
                byte[]? data = op.B == -2 ? null : Data(Math.Max(op.A, 0) % 700, step);
                s.Write(data!, op.B, op.C);
                return "";
            }
            case Kind.WriteSpan:
                s.Write(Data(Math.Max(op.A, 0) % 700, step));
                return "";
            case Kind.WriteByte:
                s.WriteByte((byte)op.A);
                return "";
            case Kind.WriteAsync:
                s.WriteAsync(Data(Math.Max(op.C, 0), step).AsMemory()).AsTask().GetAwaiter().GetResult();
                return "";
            case Kind.Read:
            {
                byte[]? target = op.B == -2 ? null : new byte[Math.Max(op.A, 0) % 700];
                int n = s.Read(target!, op.B, op.C);
                return $"{n}:{Convert.ToHexString(target!, 0, n)}";
            }
            case Kind.ReadSpan:
            {
                var target = new byte[Math.Max(op.C, 0)];
                int n = s.Read(target);
                return $"{n}:{Convert.ToHexString(target, 0, n)}";
            }
            case Kind.ReadByte:
                return s.ReadByte().ToString();
            case Kind.ReadAsync:
            {
                var target = new byte[Math.Max(op.C, 0)];
                int n = s.ReadAsync(target.AsMemory()).AsTask().GetAwaiter().GetResult();
                return $"{n}:{Convert.ToHexString(target, 0, n)}";
            }
            case Kind.Seek:
                return s.Seek(op.A, (SeekOrigin)op.B).ToString();
            case Kind.SetPosition:
                s.Position = op.A;
                return "";
            case Kind.SetLength:
                s.SetLength(op.A);
                return "";
            case Kind.SetCapacity:
                if (s is MemoryStream m)
                    m.Capacity = op.A;
                else
                    ((NativeMemoryStream)s).Capacity = op.A;
                return "";
            case Kind.ToArray:
                return Convert.ToHexString(s is MemoryStream ms ? ms.ToArray() : ((NativeMemoryStream)s).ToArray());
            case Kind.CopyTo or Kind.CopyToAsync:
            {
                var destination = new MemoryStream();
                if (op.B == -2)
                    destination.Dispose(); // an unwritable destination
                Stream? target = op.B == -1 ? null : destination;
                int bufferSize = op.C == 0 ? 0 : 81920;
                if (op.Kind == Kind.CopyTo)
                    s.CopyTo(target!, bufferSize);
                else
                    s.CopyToAsync(target!, bufferSize).GetAwaiter().GetResult();
                return Convert.ToHexString(destination.ToArray());
            }
            case Kind.WriteTo:
            {
                var destination = new MemoryStream();
                if (s is MemoryStream ms2)
                    ms2.WriteTo(destination);
                else
                    ((NativeMemoryStream)s).WriteTo(destination);
                return Convert.ToHexString(destination.ToArray());
            }
            case Kind.Flush:
                s.Flush();
                return "";
            case Kind.Dispose:
                s.Dispose();
                return "";
            default:
                throw new ArgumentOutOfRangeException(nameof(op));
        }
    }

    private static byte[] Data(int length, int step)
    {
        var data = new byte[length];
        for (int i = 0; i < length; i++)
            data[i] = (byte)(step * 37 + i * 7 + 1);
        return data;
    }

    [Fact]
    public void Pooled_memory_reads_back_as_zeros_in_gaps_even_when_it_was_dirty()
    {
        using var pool = NativeArrayPool<byte>.Create(new NativePoolOptions { ThreadCaches = true });
        NativeBuffer<byte> dirty = pool.Rent(4096);
        dirty.AsSpan().Fill(0xEE);
        pool.Return(dirty); // the next rent of this class gets these bytes back

        using var stream = new NativeMemoryStream(4096, pool); // same size class: the thread cache hands the dirty block back
        stream.Position = 1000;
        stream.WriteByte(1);
        stream.SetLength(3000);
        byte[] all = stream.ToArray();
        Assert.Equal(3000, all.Length);
        Assert.All(all.AsSpan(0, 1000).ToArray(), b => Assert.Equal(0, b));
        Assert.Equal(1, all[1000]);
        Assert.All(all.AsSpan(1001).ToArray(), b => Assert.Equal(0, b));

        stream.SetLength(10); // truncate, then extend again: what was cut must not come back
        stream.SetLength(2000);
        Assert.All(stream.ToArray().AsSpan(10).ToArray(), b => Assert.Equal(0, b));
    }

    [Fact]
    public void Sequence_chains_segments_over_data_larger_than_one_segment()
    {
        using var pool = NativeArrayPool<byte>.Create();
        NativeBuffer<byte> lease = pool.Rent(10_000);
        for (int i = 0; i < 10_000; i++)
            lease[i] = (byte)(i * 13);
        ReadOnlySequence<byte> sequence = Collections.NativeSequenceAccess.Create(lease, 9_999, maxSegmentLength: 1000);
        Assert.Equal(9_999, sequence.Length);
        Assert.False(sequence.IsSingleSegment);
        int segments = 0;
        foreach (ReadOnlyMemory<byte> segment in sequence)
        {
            Assert.True(segment.Length <= 1000);
            segments++;
        }
        Assert.Equal(10, segments);
        Assert.Equal(lease.AsSpan(0, 9_999).ToArray(), sequence.ToArray());
        Assert.Equal(lease.AsSpan(4_321, 2_500).ToArray(), sequence.Slice(4_321, 2_500).ToArray());
        pool.Return(lease);
        Assert.Throws<ObjectDisposedException>(() => sequence.First.Span[0]);
    }
}
