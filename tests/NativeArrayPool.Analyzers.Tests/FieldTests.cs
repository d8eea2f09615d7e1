using NativeBuffers.Analyzers.Tests.Support;

namespace NativeBuffers.Analyzers.Tests;

/// <summary>NAP005: a NativeBuffer field in a type that cannot be disposed.</summary>
public class FieldTests
{
    [Fact]
    public void A_lease_field_or_auto_property_in_a_public_type_that_is_not_disposable_is_reported()
    {
        AnalyzerHarness.Verify("""
            using NativeBuffers;
            public class Holder
            {
                private NativeBuffer<int> _lease; // NAP005
                public NativeBuffer<byte> Lease { get; set; } // NAP005
                public long Length => _lease.Length;
            }
            public struct ValueHolder
            {
                public NativeBuffer<int> Lease; // NAP005
                public class Nested
                {
                    protected NativeBuffer<int> Lease; // NAP005
                }
            }
            """);
    }

    [Fact]
    public void Disposable_types_disposable_ref_structs_static_fields_and_private_carriers_are_not_reported()
    {
        AnalyzerHarness.Verify("""
            using System;
            using NativeBuffers;
            public class Owner : IDisposable
            {
                private NativeBuffer<int> _lease;
                public void Dispose() => _lease.Dispose();
            }
            public class Derived : Owner
            {
                private NativeBuffer<int> _more;
                public long Length => _more.Length;
            }
            public ref struct Scope
            {
                private NativeBuffer<int> _lease;
                public void Dispose() => _lease.Dispose();
            }
            public static class Cache
            {
                public static NativeBuffer<int> Lease;
            }
            public class Model
            {
                private sealed class Live
                {
                    public NativeBuffer<byte> Buffer;
                    public int Seed;
                }
            }
            internal sealed class Carrier
            {
                public NativeBuffer<byte> Buffer;
            }
            """);
    }
}
