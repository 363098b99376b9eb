package orbital

// Version is the version of this Orbital build.
const Version = "0.1.0-dev"
