using NativeBuffers.Analyzers.Tests.Support;

namespace NativeBuffers.Analyzers.Tests;

/// <summary>NAP003: a span, memory or pointer taken from a lease used after the lease was resized or returned.</summary>
public class StaleViewTests
{
    [Fact]
    public void A_span_or_pointer_used_after_a_resize_or_return_is_reported()
    {
        AnalyzerHarness.Verify("""
            using System;
            using NativeBuffers;
            unsafe class C
            {
                void Span(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    Span<int> s = b.AsSpan();
                    pool.Resize(ref b, 1 << 20);
                    s[0] = 1; // NAP003
                    pool.Return(b);
                }

                int Slice(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    ReadOnlySpan<int> s = b.AsSpan(0, 8).Slice(2);
                    pool.Return(b);
                    return s[0]; // NAP003
                }

                void Pointer(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    int* p = b.Pointer + 1;
                    pool.Resize(ref b, 1 << 20);
                    *p = 1; // NAP003
                    pool.Return(b);
                }
            }
            """);
    }

    [Fact]
    public void A_stale_view_passed_by_value_or_by_ref_is_reported_though_another_is_written_through_out()
    {
        AnalyzerHarness.Verify("""
            using System;
            using NativeBuffers;
            class C
            {
                static void Fresh(out Memory<int> view) => view = default;
                static void Use(Memory<int> view) { }
                static void Advance(ref Memory<int> view) => view = view.Slice(1);

                void M(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    Memory<int> stale = b.AsMemory();
                    Memory<int> other = b.AsMemory();
                    pool.Resize(ref b, 1 << 20);
                    Fresh(out other);
                    Use(other);
                    Use(stale); // NAP003
                    Advance(ref stale); // NAP003
                    pool.Return(b);
                }
            }
            """);
    }

    [Fact]
    public void A_view_taken_again_after_the_resize_or_only_its_length_is_not_reported()
    {
        AnalyzerHarness.Verify("""
            using System;
            using NativeBuffers;
            class C
            {
                void TakenAgain(NativeArrayPool<int> pool, int n)
                {
                    var b = pool.Rent(16);
                    Span<int> s = b.AsSpan();
                    for (int i = 0; i < n; i++)
                    {
                        if (i == s.Length)
                        {
                            pool.Resize(ref b, b.Length * 2);
                            s = b.AsSpan();
                        }
                        s[i] = i;
                    }
                    pool.Return(b);
                }

                int Length(NativeArrayPool<int> pool)
                {
                    var b = pool.Rent(16);
                    Span<int> s = b.AsSpan();
                    pool.Resize(ref b, 1 << 20);
                    int length = s.Length;
                    pool.Return(b);
                    return length;
                }

                void OtherLease(NativeArrayPool<int> pool)
                {
                    var a = pool.Rent(16);
                    var b = pool.Rent(16);
                    Span<int> s = a.AsSpan();
                    pool.Resize(ref b, 64);
                    s[0] = 1;
                    pool.Return(a);
                    pool.Return(b);
                }
            }
            """);
    }
}
