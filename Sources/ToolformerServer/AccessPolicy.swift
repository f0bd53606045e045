#if canImport(Glibc)
import Glibc
#endif
public import ToolformerCore

/// Who may connect and who may call admin methods, from `[server]`.
///
/// Root and the daemon's own uid always may; then the uid lists, then the group lists, where a
/// peer's groups are its primary gid and the supplementary groups of its uid's account.
public struct AccessPolicy: Sendable {
    public var daemonUID: UInt32
    public var allowedUIDs: Set<UInt32>
    public var allowedGroups: [String]
    public var adminUIDs: Set<UInt32>
    public var adminGroups: [String]

    public init(_ server: ToolformerConfig.Server, daemonUID: UInt32) {
        self.daemonUID = daemonUID
        allowedUIDs = Set(server.allowedUids)
        allowedGroups = server.allowedGroups
        adminUIDs = Set(server.adminUids)
        adminGroups = server.adminGroups
    }

    public func mayConnect(_ peer: PeerCredentials) -> Bool {
        if peer.uid == 0 || peer.uid == daemonUID || allowedUIDs.contains(peer.uid) { return true }
        if adminUIDs.contains(peer.uid) { return true }
        return inAnyGroup(peer, allowedGroups + adminGroups)
    }

    public func isAdmin(_ peer: PeerCredentials) -> Bool {
        if peer.uid == 0 || adminUIDs.contains(peer.uid) { return true }
        return inAnyGroup(peer, adminGroups)
    }

    private func inAnyGroup(_ peer: PeerCredentials, _ names: [String]) -> Bool {
        guard !names.isEmpty else { return false }
        let wanted = Set(names.compactMap(Self.gid(named:)))
        guard !wanted.isEmpty else { return false }
        if wanted.contains(peer.gid) { return true }
        return !wanted.isDisjoint(with: Self.groups(ofUID: peer.uid, primary: peer.gid))
    }

    static func gid(named name: String) -> UInt32? {
        if let numeric = UInt32(name) { return numeric }
        var group = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getgrnam_r(name, &group, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return group.gr_gid
    }

    static func groups(ofUID uid: UInt32, primary: UInt32) -> Set<UInt32> {
        var passwd = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getpwuid_r(uid, &passwd, &buffer, buffer.count, &result) == 0, result != nil, let name = passwd.pw_name else {
            return [primary]
        }
        var count: Int32 = 64
        var gids = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(name, primary, &gids, &count) < 0 {
            gids = [gid_t](repeating: 0, count: Int(count))
            _ = getgrouplist(name, primary, &gids, &count)
        }
        return Set(gids.prefix(Int(max(count, 0))))
    }
}
