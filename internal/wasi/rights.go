package wasi

// Rights are the WASI rights of a descriptor (witx "rights"): what may be
// done with it, and what descriptors opened through it may get.
type Rights uint64

// The rights, one bit each.
const (
	RightFdDatasync Rights = 1 << iota
	RightFdRead
	RightFdSeek
	RightFdFdstatSetFlags
	RightFdSync
	RightFdTell
	RightFdWrite
	RightFdAdvise
	RightFdAllocate
	RightPathCreateDirectory
	RightPathCreateFile
	RightPathLinkSource
	RightPathLinkTarget
	RightPathOpen
	RightFdReaddir
	RightPathReadlink
	RightPathRenameSource
	RightPathRenameTarget
	RightPathFilestatGet
	RightPathFilestatSetSize
	RightPathFilestatSetTimes
	RightFdFilestatGet
	RightFdFilestatSetSize
	RightFdFilestatSetTimes
	RightPathSymlink
	RightPathRemoveDirectory
	RightPathUnlinkFile
	RightPollFdReadwrite
	RightSockShutdown
	RightSockAccept

	rightsAll = RightSockAccept<<1 - 1
)

// Right sets of the kinds of descriptors, as the largest a descriptor of
// that kind can hold.
const (
	// FileRights are what a regular file can do.
	FileRights = RightFdDatasync | RightFdRead | RightFdSeek | RightFdFdstatSetFlags | RightFdSync | RightFdTell |
		RightFdWrite | RightFdAdvise | RightFdAllocate | RightFdFilestatGet | RightFdFilestatSetSize |
		RightFdFilestatSetTimes | RightPollFdReadwrite
	// DirRights are what a directory can do.
	DirRights = RightFdFdstatSetFlags | RightFdSync | RightFdAdvise | RightPathCreateDirectory | RightPathCreateFile |
		RightPathLinkSource | RightPathLinkTarget | RightPathOpen | RightFdReaddir | RightPathReadlink |
		RightPathRenameSource | RightPathRenameTarget | RightPathFilestatGet | RightPathFilestatSetSize |
		RightPathFilestatSetTimes | RightFdFilestatGet | RightFdFilestatSetTimes | RightPathSymlink |
		RightPathRemoveDirectory | RightPathUnlinkFile
	// writeFileRights change a file's contents or metadata.
	writeFileRights = RightFdDatasync | RightFdWrite | RightFdAllocate | RightFdFilestatSetSize | RightFdFilestatSetTimes
	// writeDirRights change what a directory holds.
	writeDirRights = RightPathCreateDirectory | RightPathCreateFile | RightPathLinkTarget | RightPathRenameSource |
		RightPathRenameTarget | RightPathFilestatSetSize | RightPathFilestatSetTimes | RightPathSymlink |
		RightPathRemoveDirectory | RightPathUnlinkFile | RightPathLinkSource | RightFdFilestatSetTimes
	// StdinRights and StdoutRights are the rights of the standard streams.
	StdinRights  = RightFdRead | RightFdFdstatSetFlags | RightFdSync | RightFdDatasync | RightFdAdvise | RightFdFilestatGet | RightPollFdReadwrite
	StdoutRights = RightFdWrite | RightFdFdstatSetFlags | RightFdSync | RightFdDatasync | RightFdAdvise | RightFdFilestatGet | RightPollFdReadwrite
	// ListenerRights and ConnRights are the rights of sockets.
	ListenerRights = RightSockAccept | RightFdFdstatSetFlags | RightFdFilestatGet | RightPollFdReadwrite
	ConnRights     = RightFdRead | RightFdWrite | RightSockShutdown | RightFdFdstatSetFlags | RightFdFilestatGet | RightPollFdReadwrite
)

// PreopenRights returns the rights of a preopened directory: all a
// directory and its files may do. A read-only mount keeps them too: its
// file system refuses every change with EROFS, which tells a guest (and
// its libc, which asks only for the rights a directory passes on) what
// is wrong, where missing rights would turn an open for writing into a
// read-only one that fails later.
func PreopenRights() (base, inheriting Rights) {
	return DirRights, DirRights | FileRights
}
